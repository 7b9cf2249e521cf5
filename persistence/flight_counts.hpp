#pragma once
// What both flight stores share: the flight types, and the per-hour counters
// (flight_hourly_counts) that keep counting a long window cheap. A count over [from, to]
// sums the counters of the whole hours inside it and counts only the partial hours at its
// two edges row by row: 30 days at a busy airport read ~720 counter rows and at most two
// hours of index entries instead of ~30k entries. The counters are written in the
// transaction that stores the flights, for the flights that were new.

#include "messages/types.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace fw {

enum class flight_direction { arrivals, departures, both };

/// "arrivals", "departures" or "" (both); anything else throws std::runtime_error.
flight_direction parse_flight_type(const std::string& type);

inline constexpr std::int64_t no_lower_bound = std::numeric_limits<std::int64_t>::min();
inline constexpr std::int64_t no_upper_bound = std::numeric_limits<std::int64_t>::max();

inline constexpr std::int64_t seconds_per_hour = 3600;

/// The hour (unix seconds / 3600, rounded down) a time falls in.
constexpr std::int64_t hour_of(std::int64_t unix_seconds) {
  auto q = unix_seconds / seconds_per_hour;
  return unix_seconds % seconds_per_hour < 0 ? q - 1 : q;
}

/// Increments of one counter row: flights arriving at `airport` in `hour` (by last_seen),
/// departing in `hour` (by first_seen), and departing to another airport (the "both"
/// count: a flight from and to the same airport counts once, by its arrival).
struct hourly_delta {
  std::string airport;
  std::int64_t hour = 0;
  std::int64_t arrivals = 0;
  std::int64_t departures = 0;
  std::int64_t departures_elsewhere = 0;
};

/// The increments for newly stored flights, one per (airport, hour), in that order (the
/// order concurrent writers lock rows in). Unknown airports ("") get no counters.
std::vector<hourly_delta> hourly_deltas(const std::vector<const flight*>& added);

/// A count over [from, to]: the counters of hours [first_hour, last_hour] (none when
/// first_hour > last_hour) plus the flights timed in [from, head_end] and in
/// [tail_begin, to], counted row by row.
struct count_plan {
  std::int64_t first_hour = 1;
  std::int64_t last_hour = 0;
  std::int64_t head_end = 0;
  std::int64_t tail_begin = 0;
};

/// The plan for [from, to] at `airport`. Windows without a whole hour, far-out bounds and
/// the unknown airport "" (which has no counters) are counted row by row.
count_plan plan_count(const std::string& airport, std::int64_t from, std::int64_t to);

/// SQL shared by both backends: the hour of a time column (as hour_of), and the
/// statement that fills the counters from the stored flights (migration 4).
std::string hour_sql(const std::string& column);
std::string backfill_hourly_counts_sql();

} // namespace fw
