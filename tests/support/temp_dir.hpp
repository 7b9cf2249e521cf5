#pragma once

#include <filesystem>
#include <string>

namespace fw::test {

// A fresh directory under the system temp dir, removed recursively on
// destruction. Names are "<prefix>XXXXXX" (mkdtemp), so runs never share one.
class temp_dir {
 public:
  explicit temp_dir(std::string prefix = "fw-test-");
  ~temp_dir();

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const;

 private:
  std::filesystem::path path_;
};

}  // namespace fw::test
