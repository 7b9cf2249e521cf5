#pragma once
// Reading a whole small text file: the configuration, secret files, /proc and /sys entries.

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace fw {

/// The file's content; nothing when it cannot be opened.
inline std::optional<std::string> read_text_file(const std::filesystem::path& file) {
  std::ifstream in{file};
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace fw
