#include "messages/json.hpp"

#include <nlohmann/json.hpp>

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

} // namespace fw
