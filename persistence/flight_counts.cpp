#include "persistence/flight_counts.hpp"

#include <map>
#include <stdexcept>
#include <tuple>

namespace fw {

flight_direction parse_flight_type(const std::string& type) {
  if (type == "arrivals")
    return flight_direction::arrivals;
  if (type == "departures")
    return flight_direction::departures;
  if (type.empty())
    return flight_direction::both;
  throw std::runtime_error("unknown flight type (expected arrivals, departures or empty)");
}

std::vector<hourly_delta> hourly_deltas(const std::vector<const flight*>& added) {
  std::map<std::pair<std::string, std::int64_t>, hourly_delta> rows;
  auto row = [&](const std::string& airport, std::int64_t time) -> hourly_delta& {
    auto& d = rows[{airport, hour_of(time)}];
    d.airport = airport;
    d.hour = hour_of(time);
    return d;
  };
  for (const auto* f : added) {
    if (!f->est_arrival_airport.empty())
      ++row(f->est_arrival_airport, f->last_seen).arrivals;
    if (!f->est_departure_airport.empty()) {
      auto& d = row(f->est_departure_airport, f->first_seen);
      ++d.departures;
      if (f->est_arrival_airport != f->est_departure_airport)
        ++d.departures_elsewhere;
    }
  }
  std::vector<hourly_delta> out;
  out.reserve(rows.size());
  for (auto& [key, d] : rows)
    out.push_back(std::move(d));
  return out;
}

count_plan plan_count(const std::string& airport, std::int64_t from, std::int64_t to) {
  constexpr std::int64_t far = std::int64_t{1} << 50; // beyond any flight's time
  // Row by row: the window as the head and an empty tail (or, when `to` is the largest
  // time, [to, to] as the tail: the two stay disjoint).
  const count_plan rows_only = to == no_upper_bound ? count_plan{1, 0, to - 1, to}
                                                    : count_plan{1, 0, to, to + 1};
  if (airport.empty() || from < -far || to < -far || to > far)
    return rows_only;
  const auto first_hour = hour_of(from + seconds_per_hour - 1); // the first starting >= from
  const auto last_hour = hour_of(to - (seconds_per_hour - 1));  // the last ending <= to
  if (first_hour > last_hour)
    return rows_only;
  return {first_hour, last_hour, first_hour * seconds_per_hour - 1,
          (last_hour + 1) * seconds_per_hour};
}

std::string hour_sql(const std::string& column) {
  // Rounded down for negative times too (SQL's % keeps the dividend's sign).
  return "((" + column + " - ((" + column + " % 3600) + 3600) % 3600) / 3600)";
}

std::string backfill_hourly_counts_sql() {
  return "INSERT INTO flight_hourly_counts (airport, hour, arrivals, departures, "
         "departures_elsewhere)\n"
         "SELECT airport, hour, sum(a), sum(d), sum(e) FROM (\n"
         "  SELECT est_arrival_airport AS airport, "
         + hour_sql("last_seen")
         + " AS hour, 1 AS a, 0 AS d, 0 AS e\n"
           "  FROM flight_data WHERE est_arrival_airport <> ''\n"
           "  UNION ALL\n"
           "  SELECT est_departure_airport, "
         + hour_sql("first_seen")
         + ", 0, 1,\n"
           "    CASE WHEN est_arrival_airport <> est_departure_airport THEN 1 ELSE 0 END\n"
           "  FROM flight_data WHERE est_departure_airport <> ''\n"
           ") AS x GROUP BY airport, hour";
}

} // namespace fw
