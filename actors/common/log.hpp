#pragma once
// One process-wide logger: a line per event on stderr, "<time> <level> <component>: <text>".
// The component (role or actor name) comes first so a node's interleaved output stays
// readable. Secrets never reach it: callers log the names of settings, never their values.

#include <sstream>
#include <string>
#include <string_view>

namespace fw::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

/// Sets the lowest level that is printed (default: info).
void set_level(level lvl);
level current_level();
/// Parses "debug", "info", "warn", "error", "off".
bool parse_level(std::string_view text, level& out);
/// Writes one whole line with a single write(2), so threads never interleave mid-line.
void write(level lvl, std::string_view component, std::string_view text);

inline bool enabled(level lvl) {
  return lvl >= current_level() && lvl != level::off;
}

template <class... Ts>
void emit(level lvl, std::string_view component, const Ts&... parts) {
  if (!enabled(lvl))
    return;
  std::ostringstream out;
  (out << ... << parts);
  write(lvl, component, out.str());
}

template <class... Ts>
void debug(std::string_view component, const Ts&... parts) {
  emit(level::debug, component, parts...);
}
template <class... Ts>
void info(std::string_view component, const Ts&... parts) {
  emit(level::info, component, parts...);
}
template <class... Ts>
void warn(std::string_view component, const Ts&... parts) {
  emit(level::warn, component, parts...);
}
template <class... Ts>
void error(std::string_view component, const Ts&... parts) {
  emit(level::error, component, parts...);
}

} // namespace fw::log
