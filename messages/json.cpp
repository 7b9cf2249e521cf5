#include "messages/json.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <type_traits>

namespace fw {

void to_json(nlohmann::json& j, const pong& x) {
  j = nlohmann::json{{"message", "pong"}, {"service", x.service}, {"node", x.node}};
}

void from_json(const nlohmann::json& j, pong& x) {
  j.at("service").get_to(x.service);
  j.at("node").get_to(x.node);
}

void to_json(nlohmann::json& j, const component_health& x) {
  j = nlohmann::json{{"component", x.component}, {"ready", x.ready}};
  if (!x.detail.empty())
    j["detail"] = x.detail;
}

void from_json(const nlohmann::json& j, component_health& x) {
  j.at("component").get_to(x.component);
  j.at("ready").get_to(x.ready);
  x.detail = j.value("detail", std::string{});
}

namespace {

nlohmann::json opt(const caf::optional<std::int64_t>& x) {
  return x ? nlohmann::json(*x) : nlohmann::json{};
}

nlohmann::json opt(const std::string& x) {
  return x.empty() ? nlohmann::json{} : nlohmann::json(x);
}

void get_opt(const nlohmann::json& j, const char* key, caf::optional<std::int64_t>& out) {
  auto i = j.find(key);
  out = i == j.end() || i->is_null() ? caf::optional<std::int64_t>{}
                                     : caf::optional<std::int64_t>{i->get<std::int64_t>()};
}

void get_opt(const nlohmann::json& j, const char* key, std::string& out) {
  auto i = j.find(key);
  out = i == j.end() || i->is_null() ? std::string{} : i->get<std::string>();
}

} // namespace

void to_json(nlohmann::json& j, const user& x) {
  j = nlohmann::json{{"email", x.email},
                     {"first_name", x.first_name},
                     {"last_name", x.last_name},
                     {"tax_code", opt(x.tax_code)},
                     {"iban", opt(x.iban)},
                     {"telegram_chat_id", opt(x.telegram_chat_id)}};
}

void from_json(const nlohmann::json& j, user& x) {
  j.at("email").get_to(x.email);
  j.at("first_name").get_to(x.first_name);
  j.at("last_name").get_to(x.last_name);
  get_opt(j, "tax_code", x.tax_code);
  get_opt(j, "iban", x.iban);
  get_opt(j, "telegram_chat_id", x.telegram_chat_id);
}


void to_json(nlohmann::json& j, const flight& x) {
  j = nlohmann::json{
    {"icao24", x.icao24},
    {"first_seen", x.first_seen},
    {"est_departure_airport", opt(x.est_departure_airport)},
    {"last_seen", x.last_seen},
    {"est_arrival_airport", opt(x.est_arrival_airport)},
    {"callsign", opt(x.callsign)},
    {"est_departure_airport_horiz_distance", opt(x.est_departure_airport_horiz_distance)},
    {"est_departure_airport_vert_distance", opt(x.est_departure_airport_vert_distance)},
    {"est_arrival_airport_horiz_distance", opt(x.est_arrival_airport_horiz_distance)},
    {"est_arrival_airport_vert_distance", opt(x.est_arrival_airport_vert_distance)},
    {"departure_airport_candidates_count", opt(x.departure_airport_candidates_count)},
    {"arrival_airport_candidates_count", opt(x.arrival_airport_candidates_count)},
  };
}

namespace {

bool needs_escape(char c) {
  return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
}

/// Appends `s` as a JSON string the way nlohmann's dump writes it (UTF-8 kept as is).
void append_string(std::string& out, std::string_view s) {
  out += '"';
  while (!s.empty()) {
    // The plain run up to the next character to escape goes in one append.
    auto plain = std::find_if(s.begin(), s.end(), [](char c) { return needs_escape(c); })
                 - s.begin();
    out.append(s.data(), static_cast<size_t>(plain));
    s.remove_prefix(static_cast<size_t>(plain));
    if (s.empty())
      break;
    const char c = s.front();
    s.remove_prefix(1);
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        static constexpr char hex[] = "0123456789abcdef";
        out += "\\u00";
        out += hex[(c >> 4) & 0xf];
        out += hex[c & 0xf];
      }
    }
  }
  out += '"';
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

/// One `"key":value` member, comma-separated from the previous one.
template <class Value>
void member(std::string& out, std::string_view key, const Value& v, bool first = false) {
  if (!first)
    out += ',';
  append_string(out, key);
  out += ':';
  if constexpr (std::is_same_v<Value, std::string>) {
    if (v.empty())
      out += "null";
    else
      append_string(out, v);
  } else if constexpr (std::is_same_v<Value, caf::optional<std::int64_t>>) {
    if (v)
      append_int(out, *v);
    else
      out += "null";
  } else {
    append_int(out, v);
  }
}

void append_flight(std::string& out, const flight& x) {
  // Keys in nlohmann's order (sorted), empty strings and absent numbers as null.
  out += '{';
  member(out, "arrival_airport_candidates_count", x.arrival_airport_candidates_count, true);
  member(out, "callsign", x.callsign);
  member(out, "departure_airport_candidates_count", x.departure_airport_candidates_count);
  member(out, "est_arrival_airport", x.est_arrival_airport);
  member(out, "est_arrival_airport_horiz_distance", x.est_arrival_airport_horiz_distance);
  member(out, "est_arrival_airport_vert_distance", x.est_arrival_airport_vert_distance);
  member(out, "est_departure_airport", x.est_departure_airport);
  member(out, "est_departure_airport_horiz_distance", x.est_departure_airport_horiz_distance);
  member(out, "est_departure_airport_vert_distance", x.est_departure_airport_vert_distance);
  member(out, "first_seen", x.first_seen);
  // icao24 is a string always, even when empty.
  out += ",\"icao24\":";
  append_string(out, x.icao24);
  member(out, "last_seen", x.last_seen);
  out += '}';
}

} // namespace

std::string to_json_text(const flight& x) {
  std::string out;
  out.reserve(420);
  append_flight(out, x);
  return out;
}

std::string to_json_text(const std::vector<flight>& xs) {
  std::string out;
  out.reserve(2 + xs.size() * 420);
  out += '[';
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i > 0)
      out += ',';
    append_flight(out, xs[i]);
  }
  out += ']';
  return out;
}

void from_json(const nlohmann::json& j, flight& x) {
  j.at("icao24").get_to(x.icao24);
  j.at("first_seen").get_to(x.first_seen);
  j.at("last_seen").get_to(x.last_seen);
  get_opt(j, "est_departure_airport", x.est_departure_airport);
  get_opt(j, "est_arrival_airport", x.est_arrival_airport);
  get_opt(j, "callsign", x.callsign);
  get_opt(j, "est_departure_airport_horiz_distance", x.est_departure_airport_horiz_distance);
  get_opt(j, "est_departure_airport_vert_distance", x.est_departure_airport_vert_distance);
  get_opt(j, "est_arrival_airport_horiz_distance", x.est_arrival_airport_horiz_distance);
  get_opt(j, "est_arrival_airport_vert_distance", x.est_arrival_airport_vert_distance);
  get_opt(j, "departure_airport_candidates_count", x.departure_airport_candidates_count);
  get_opt(j, "arrival_airport_candidates_count", x.arrival_airport_candidates_count);
}

void to_json(nlohmann::json& j, const interest& x) {
  j = nlohmann::json{{"user_email", x.user_email},
                     {"airport_code", x.airport_code},
                     {"high_value", opt(x.high_value)},
                     {"low_value", opt(x.low_value)}};
}

void from_json(const nlohmann::json& j, interest& x) {
  j.at("user_email").get_to(x.user_email);
  j.at("airport_code").get_to(x.airport_code);
  get_opt(j, "high_value", x.high_value);
  get_opt(j, "low_value", x.low_value);
}

void to_json(nlohmann::json& j, const flight_average& x) {
  j = nlohmann::json{{"airport_code", x.airport_code},
                     {"type", x.type.empty() ? "all" : x.type},
                     {"days", x.days},
                     {"flights", x.flights},
                     {"average_flights_per_day", x.average_per_day}};
}

void to_json(nlohmann::json& j, const traffic_event& x) {
  j = nlohmann::json{{"event_id", x.event_id},
                     {"user_email", x.user_email},
                     {"airport_code", x.airport_code},
                     {"flight_count", x.flight_count},
                     {"high_value", opt(x.high_value)},
                     {"low_value", opt(x.low_value)},
                     {"window_start", x.window_start},
                     {"window_end", x.window_end}};
}

void from_json(const nlohmann::json& j, traffic_event& x) {
  j.at("event_id").get_to(x.event_id);
  j.at("user_email").get_to(x.user_email);
  j.at("airport_code").get_to(x.airport_code);
  j.at("flight_count").get_to(x.flight_count);
  get_opt(j, "high_value", x.high_value);
  get_opt(j, "low_value", x.low_value);
  j.at("window_start").get_to(x.window_start);
  j.at("window_end").get_to(x.window_end);
}

void to_json(nlohmann::json& j, const alert_notice& x) {
  j = nlohmann::json{{"event_id", x.event_id},         {"user_email", x.user_email},
                     {"airport_code", x.airport_code}, {"kind", x.kind},
                     {"condition", x.condition},       {"flight_count", x.flight_count},
                     {"threshold", x.threshold},       {"created_at_ms", x.created_at_ms}};
}

void from_json(const nlohmann::json& j, alert_notice& x) {
  j.at("event_id").get_to(x.event_id);
  j.at("user_email").get_to(x.user_email);
  j.at("airport_code").get_to(x.airport_code);
  j.at("kind").get_to(x.kind);
  j.at("condition").get_to(x.condition);
  j.at("flight_count").get_to(x.flight_count);
  j.at("threshold").get_to(x.threshold);
  x.created_at_ms = j.value("created_at_ms", std::int64_t{0});
}

void to_json(nlohmann::json& j, const notification& x) {
  j = nlohmann::json{{"event_id", x.event_id},
                     {"user_email", x.user_email},
                     {"airport_code", opt(x.airport_code)},
                     {"kind", x.kind},
                     {"channel", x.channel},
                     {"text", x.text},
                     {"status", x.status},
                     {"error", opt(x.error)},
                     {"attempts", x.attempts},
                     {"created_at_ms", x.created_at_ms},
                     {"updated_at_ms", x.updated_at_ms}};
}

std::string error_body(std::string_view error, std::string_view message) {
  return nlohmann::json{{"error", error}, {"message", message}}.dump(
    -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string message_body(std::string_view message) {
  return nlohmann::json{{"message", message}}.dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace);
}

} // namespace fw
