#include "actors/data_collector/interest_rules.hpp"

#include "actors/common/text.hpp"

#include <algorithm>
#include <cctype>

namespace fw::data_collector {

std::optional<std::string> check_airport(std::string& code) {
  code = to_upper(trim(code));
  if (code.size() != 4
      || !std::all_of(code.begin(), code.end(),
                      [](unsigned char c) { return c >= 'A' && c <= 'Z'; }))
    return "airport_code must be a 4-letter ICAO code such as LIRF";
  return std::nullopt;
}

std::optional<std::string> check_flight_type(const std::string& type) {
  if (type.empty() || type == "arrivals" || type == "departures")
    return std::nullopt;
  return "type must be arrivals or departures";
}

std::optional<std::string> check_interest(interest& i) {
  i.user_email = normalize_email(i.user_email);
  if (i.user_email.empty())
    return "email is required";
  if (auto err = check_airport(i.airport_code))
    return err;
  if (i.high_value && *i.high_value < 0)
    return "high_value must not be negative";
  if (i.low_value && *i.low_value < 0)
    return "low_value must not be negative";
  if (i.high_value && i.low_value && *i.high_value <= *i.low_value)
    return "high_value must be greater than low_value";
  return std::nullopt;
}

std::optional<std::string> check_flight_query(flight_query& q) {
  if (auto err = check_airport(q.airport_code))
    return err;
  if (auto err = check_flight_type(q.type))
    return err;
  if (q.limit < 1 || q.limit > max_flight_limit)
    return "limit must be between 1 and " + std::to_string(max_flight_limit);
  if (q.since && q.until && *q.since > *q.until)
    return "since must not be after until";
  return std::nullopt;
}

} // namespace fw::data_collector
