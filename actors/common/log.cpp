#include "actors/common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

namespace fw::log {

namespace {

std::atomic<level> min_level{level::info};

constexpr std::string_view level_names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

} // namespace

void set_level(level lvl) {
  min_level.store(lvl, std::memory_order_relaxed);
}

level current_level() {
  return min_level.load(std::memory_order_relaxed);
}

bool parse_level(std::string_view text, level& out) {
  for (int i = 0; i <= static_cast<int>(level::off); ++i) {
    auto name = level_names[i];
    if (text.size() == name.size()) {
      bool same = true;
      for (size_t j = 0; j < name.size(); ++j)
        same = same && (text[j] == name[j] || text[j] == name[j] - 'A' + 'a');
      if (same) {
        out = static_cast<level>(i);
        return true;
      }
    }
  }
  return false;
}

void write(level lvl, std::string_view component, std::string_view text) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char stamp[32];
  auto n = std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line;
  line.reserve(n + component.size() + text.size() + 24);
  line.append(stamp, n);
  char ms[8];
  std::snprintf(ms, sizeof(ms), ".%03dZ ", static_cast<int>(millis));
  line += ms;
  line += level_names[static_cast<int>(lvl)];
  line += ' ';
  line += component;
  line += ": ";
  // One event, one line: multi-line library messages (libpq's) are folded.
  for (char c : text)
    line += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  line += '\n';
  auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void) rc;
}

} // namespace fw::log
