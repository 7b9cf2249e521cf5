#include "tests/support/temp_dir.hpp"

#include <cerrno>
#include <cstdlib>
#include <system_error>

namespace fw::test {

temp_dir::temp_dir(std::string prefix) {
  auto pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;  // never throw from a destructor; leftovers are harmless
  std::filesystem::remove_all(path_, ignored);
}

const std::filesystem::path& temp_dir::path() const { return path_; }

}  // namespace fw::test
