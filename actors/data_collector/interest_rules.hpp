#pragma once
// Input rules of the data-collector: ICAO airport codes, thresholds, flight queries.
// Each check normalises in place and returns the 400 reason, or nothing when valid.

#include "messages/types.hpp"

#include <optional>
#include <string>

namespace fw::data_collector {

inline constexpr std::int64_t default_flight_limit = 100;
inline constexpr std::int64_t max_flight_limit = 1000;
inline constexpr std::int64_t default_average_days = 7;
inline constexpr std::int64_t max_average_days = 365;

/// Four letters, upper-cased ("lirf" → "LIRF").
std::optional<std::string> check_airport(std::string& code);
/// "", "arrivals" or "departures".
std::optional<std::string> check_flight_type(const std::string& type);
/// Email and airport normalised; thresholds non-negative, high > low when both are given.
std::optional<std::string> check_interest(interest& i);
/// Airport, type, 1 <= limit <= 1000, since <= until.
std::optional<std::string> check_flight_query(flight_query& q);

} // namespace fw::data_collector
