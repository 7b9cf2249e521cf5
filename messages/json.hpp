#pragma once
// JSON mapping of the message types (HTTP bodies, Kafka payloads). nlohmann's ADL hooks:
// nlohmann::json j = x; auto y = j.get<T>(); from_json throws nlohmann::json::exception
// on a missing or mistyped field, which callers turn into a 400.

#include "messages/types.hpp"

#include <nlohmann/json_fwd.hpp>

namespace fw {

void to_json(nlohmann::json& j, const pong& x);
void from_json(const nlohmann::json& j, pong& x);

void to_json(nlohmann::json& j, const component_health& x);
void from_json(const nlohmann::json& j, component_health& x);

} // namespace fw
