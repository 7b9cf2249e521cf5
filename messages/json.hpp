#pragma once
// JSON mapping of the message types (HTTP bodies, Kafka payloads). nlohmann's ADL hooks:
// nlohmann::json j = x; auto y = j.get<T>(); from_json throws nlohmann::json::exception
// on a missing or mistyped field, which callers turn into a 400.

#include "messages/types.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>

namespace fw {

void to_json(nlohmann::json& j, const pong& x);
void from_json(const nlohmann::json& j, pong& x);

void to_json(nlohmann::json& j, const component_health& x);
void from_json(const nlohmann::json& j, component_health& x);

/// The seed's user object: email, first_name, last_name, tax_code, iban,
/// telegram_chat_id (null when not set; tax_code and iban null when not given).
void to_json(nlohmann::json& j, const user& x);
void from_json(const nlohmann::json& j, user& x);

/// Flights in the seed's flight_data column names (null for unknown values).
void to_json(nlohmann::json& j, const flight& x);
void from_json(const nlohmann::json& j, flight& x);

/// The same JSON text as nlohmann::json(x).dump(), written directly: a list of flights is
/// the largest body the gateway serves (100 flights, ~39 KB), and building it through the
/// JSON DOM cost ~0.7 ms per response against ~20 us.
std::string to_json_text(const flight& x);
std::string to_json_text(const std::vector<flight>& xs);

/// {"user_email","airport_code","high_value","low_value"} (null thresholds when absent).
void to_json(nlohmann::json& j, const interest& x);
void from_json(const nlohmann::json& j, interest& x);

void to_json(nlohmann::json& j, const flight_average& x);

/// The to-alert-system payload: the seed's fields plus event_id and the window.
void to_json(nlohmann::json& j, const traffic_event& x);
void from_json(const nlohmann::json& j, traffic_event& x);

/// The to-notifier payload: the seed's {user_email, airport_code, condition} plus
/// event_id, kind, flight_count, threshold and created_at_ms.
void to_json(nlohmann::json& j, const alert_notice& x);
void from_json(const nlohmann::json& j, alert_notice& x);

void to_json(nlohmann::json& j, const notification& x);

/// `{"error": "<error>", "message": "<message>"}`, the body of every error response.
std::string error_body(std::string_view error, std::string_view message);
/// `{"message": "<message>"}`, the seed's body for a successful command.
std::string message_body(std::string_view message);

} // namespace fw
