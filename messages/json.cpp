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

void to_json(nlohmann::json& j, const user& x) {
  auto or_null = [](const std::string& s) { return s.empty() ? nlohmann::json{} : nlohmann::json(s); };
  j = nlohmann::json{{"email", x.email},
                     {"first_name", x.first_name},
                     {"last_name", x.last_name},
                     {"tax_code", or_null(x.tax_code)},
                     {"iban", or_null(x.iban)},
                     {"telegram_chat_id", x.telegram_chat_id ? nlohmann::json(*x.telegram_chat_id)
                                                             : nlohmann::json{}}};
}

void from_json(const nlohmann::json& j, user& x) {
  auto or_empty = [&j](const char* key) {
    auto i = j.find(key);
    return i == j.end() || i->is_null() ? std::string{} : i->get<std::string>();
  };
  j.at("email").get_to(x.email);
  j.at("first_name").get_to(x.first_name);
  j.at("last_name").get_to(x.last_name);
  x.tax_code = or_empty("tax_code");
  x.iban = or_empty("iban");
  auto chat = j.find("telegram_chat_id");
  if (chat != j.end() && !chat->is_null())
    x.telegram_chat_id = chat->get<std::int64_t>();
  else
    x.telegram_chat_id = caf::none;
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
