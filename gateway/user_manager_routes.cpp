#include "gateway/user_manager_routes.hpp"

#include "gateway/route_helpers.hpp"
#include "messages/json.hpp"
#include "persistence/stores.hpp"

#include <charconv>
#include <limits>
#include <tuple>

namespace fw::gateway {

namespace {

constexpr const char* role = "user-manager";

/// Telegram chat ids are 64-bit integers; the seed's clients send them as strings.
std::optional<bad_input> chat_id_field(const nlohmann::json& body, std::int64_t& out) {
  auto i = body.find("telegram_chat_id");
  if (i == body.end() || i->is_null())
    return bad_input{"telegram_chat_id is required"};
  if (i->is_string()) {
    const auto& text = i->get_ref<const std::string&>();
    auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (err == std::errc::result_out_of_range)
      return bad_input{"telegram_chat_id is out of range"};
    if (text.empty() || err != std::errc{} || end != text.data() + text.size())
      return bad_input{"telegram_chat_id must be an integer"};
    return std::nullopt;
  }
  caf::optional<std::int64_t> number;
  if (i->is_number_unsigned())
    if (i->get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
      return bad_input{"telegram_chat_id is out of range"};
  if (auto err = optional_int_field(body, "telegram_chat_id", number))
    return err;
  out = *number;
  return std::nullopt;
}

std::string idempotency_key(const request_context& c) {
  auto i = c.req.find("Idempotency-Key");
  return i == c.req.end() ? std::string{} : std::string{i->value()};
}

} // namespace

void add_user_manager_routes(router& r, const route_services& svc) {
  r.add(http::verb::post, "/user-manager/users", role, [svc](request_context& c, reply_fn reply) {
    auto body = json_object(c);
    if (auto* bad = std::get_if<bad_input>(&body))
      return reply(bad_request(c, *bad));
    const auto& j = std::get<nlohmann::json>(body);
    user u;
    for (auto [key, field, required] :
         {std::tuple{"email", &u.email, true}, std::tuple{"first_name", &u.first_name, true},
          std::tuple{"last_name", &u.last_name, true}, std::tuple{"tax_code", &u.tax_code, false},
          std::tuple{"iban", &u.iban, false}})
      if (auto err = string_field(j, key, required, *field))
        return reply(bad_request(c, *err));
    answer_command(svc, role, c, std::move(reply), create_user_atom::value, idempotency_key(c),
                 std::move(u));
  });
  r.add(http::verb::get, "/user-manager/users", role, [svc](request_context& c, reply_fn reply) {
    answer<std::vector<user>>(svc, role, c, std::move(reply), http::status::ok, as_json,
                              list_users_atom::value);
  });
  r.add(http::verb::get, "/user-manager/users/{email}", role,
        [svc](request_context& c, reply_fn reply) {
          answer<user>(svc, role, c, std::move(reply), http::status::ok, as_json,
                       get_user_atom::value, c.params.at("email"));
        });
  r.add(http::verb::delete_, "/user-manager/users/{email}", role,
        [svc](request_context& c, reply_fn reply) {
          answer_command(svc, role, c, std::move(reply), delete_user_atom::value, idempotency_key(c),
                       c.params.at("email"));
        });
  r.add(http::verb::post, "/user-manager/users/{email}/telegram-link", role,
        [svc](request_context& c, reply_fn reply) {
          auto lifetime = std::chrono::seconds{telegram_link_lifetime}.count();
          answer<std::string>(
            svc, role, c, std::move(reply), http::status::created,
            [lifetime](const std::string& link) {
              return nlohmann::json{{"link", link}, {"expires_in_seconds", lifetime}};
            },
            telegram_link_atom::value, c.params.at("email"));
        });
  r.add(http::verb::post, "/user-manager/users/telegram", role,
        [svc](request_context& c, reply_fn reply) {
          auto body = json_object(c);
          if (auto* bad = std::get_if<bad_input>(&body))
            return reply(bad_request(c, *bad));
          const auto& j = std::get<nlohmann::json>(body);
          std::string email;
          std::int64_t chat_id = 0;
          if (auto err = string_field(j, "email", true, email))
            return reply(bad_request(c, *err));
          if (auto err = chat_id_field(j, chat_id))
            return reply(bad_request(c, *err));
          answer_command(svc, role, c, std::move(reply), link_telegram_atom::value, idempotency_key(c),
                       std::move(email), chat_id);
        });
}

} // namespace fw::gateway
