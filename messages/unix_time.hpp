#pragma once
// Wall-clock time as the project stores and sends it: since the Unix epoch, in
// milliseconds (users, keys, notifications, cluster peers) or seconds (flights, as OpenSky).

#include <chrono>
#include <cstdint>

namespace fw {

inline std::int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

inline std::int64_t unix_seconds() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace fw
