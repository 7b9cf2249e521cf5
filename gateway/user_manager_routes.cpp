#include "gateway/user_manager_routes.hpp"

#include "gateway/error_status.hpp"
#include "gateway/responses.hpp"
#include "messages/json.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <limits>
#include <optional>
#include <tuple>
#include <variant>

namespace fw::gateway {

namespace {

constexpr const char* role = "user-manager";

/// A 400 naming what is wrong with the body.
struct bad_body {
  std::string message;
};

/// The request body as a JSON object (whatever Content-Type says), or why not.
std::variant<nlohmann::json, bad_body> json_object(const request_context& c) {
  nlohmann::json body;
  if (c.json)
    body = *c.json;
  else if (!c.req.body().empty())
    body = nlohmann::json::parse(c.req.body(), nullptr, false);
  if (body.is_discarded())
    return bad_body{"the request body is not valid JSON"};
  if (!body.is_object())
    return bad_body{"expected a JSON object body"};
  return body;
}

/// A required string field; absent, null or another type is a 400.
std::optional<std::string> string_field(const nlohmann::json& body, const char* key,
                                        bool required, std::string& out) {
  auto i = body.find(key);
  if (i == body.end() || i->is_null()) {
    if (required)
      return std::string{key} + " is required";
    return std::nullopt;
  }
  if (!i->is_string())
    return std::string{key} + " must be a string";
  out = i->get<std::string>();
  return std::nullopt;
}

/// Telegram chat ids are 64-bit integers; the seed's clients send them as strings.
std::optional<std::string> chat_id_field(const nlohmann::json& body, std::int64_t& out) {
  auto i = body.find("telegram_chat_id");
  if (i == body.end() || i->is_null())
    return "telegram_chat_id is required";
  if (i->is_number_integer()) {
    if (i->is_number_unsigned()
        && i->get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
      return "telegram_chat_id is out of range";
    out = i->get<std::int64_t>();
    return std::nullopt;
  }
  if (i->is_string()) {
    const auto& text = i->get_ref<const std::string&>();
    auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (err == std::errc::result_out_of_range)
      return "telegram_chat_id is out of range";
    if (text.empty() || err != std::errc{} || end != text.data() + text.size())
      return "telegram_chat_id must be an integer";
    return std::nullopt;
  }
  return "telegram_chat_id must be an integer";
}

response bad_request(const request_context& c, const std::string& message) {
  return error_response(http::status::bad_request, "invalid_argument", message, c.req.version(),
                        c.req.keep_alive());
}

std::string idempotency_key(const request_context& c) {
  auto i = c.req.find("Idempotency-Key");
  return i == c.req.end() ? std::string{} : std::string{i->value()};
}

/// Answers a command: its stored or fresh status and body; a replay says so in a header.
template <class... Ts>
void send_command(const route_services& svc, const request_context& c, reply_fn reply,
                  Ts... msg) {
  svc.roles->ask<command_reply>(
    role,
    [reply = std::move(reply), version = c.req.version(),
     keep_alive = c.req.keep_alive()](caf::expected<command_reply> r) {
      if (!r) {
        reply(error_reply(r.error(), version, keep_alive));
        return;
      }
      auto res = json_text_response(static_cast<http::status>(r->status), std::move(r->body),
                                    version, keep_alive);
      if (r->replayed)
        res.set("Idempotent-Replayed", "true");
      reply(std::move(res));
    },
    std::move(msg)...);
}

/// Answers a query with its result as JSON, or the mapped error.
template <class Reply, class... Ts>
void send_query(const route_services& svc, const request_context& c, reply_fn reply, Ts... msg) {
  svc.roles->ask<Reply>(
    role,
    [reply = std::move(reply), version = c.req.version(),
     keep_alive = c.req.keep_alive()](caf::expected<Reply> r) {
      if (r)
        reply(json_response(http::status::ok, nlohmann::json(*r), version, keep_alive));
      else
        reply(error_reply(r.error(), version, keep_alive));
    },
    std::move(msg)...);
}

} // namespace

void add_user_manager_routes(router& r, const route_services& svc) {
  r.add(http::verb::post, "/user-manager/users", role, [svc](request_context& c, reply_fn reply) {
    auto body = json_object(c);
    if (auto* bad = std::get_if<bad_body>(&body))
      return reply(bad_request(c, bad->message));
    const auto& j = std::get<nlohmann::json>(body);
    user u;
    for (auto [key, field, required] :
         {std::tuple{"email", &u.email, true}, std::tuple{"first_name", &u.first_name, true},
          std::tuple{"last_name", &u.last_name, true}, std::tuple{"tax_code", &u.tax_code, false},
          std::tuple{"iban", &u.iban, false}})
      if (auto err = string_field(j, key, required, *field))
        return reply(bad_request(c, *err));
    send_command(svc, c, std::move(reply), create_user_atom::value, idempotency_key(c),
                 std::move(u));
  });
  r.add(http::verb::get, "/user-manager/users", role, [svc](request_context& c, reply_fn reply) {
    send_query<std::vector<user>>(svc, c, std::move(reply), list_users_atom::value);
  });
  r.add(http::verb::get, "/user-manager/users/{email}", role,
        [svc](request_context& c, reply_fn reply) {
          send_query<user>(svc, c, std::move(reply), get_user_atom::value, c.params.at("email"));
        });
  r.add(http::verb::delete_, "/user-manager/users/{email}", role,
        [svc](request_context& c, reply_fn reply) {
          send_command(svc, c, std::move(reply), delete_user_atom::value, idempotency_key(c),
                       c.params.at("email"));
        });
  r.add(http::verb::post, "/user-manager/users/telegram", role,
        [svc](request_context& c, reply_fn reply) {
          auto body = json_object(c);
          if (auto* bad = std::get_if<bad_body>(&body))
            return reply(bad_request(c, bad->message));
          const auto& j = std::get<nlohmann::json>(body);
          std::string email;
          std::int64_t chat_id = 0;
          if (auto err = string_field(j, "email", true, email))
            return reply(bad_request(c, *err));
          if (auto err = chat_id_field(j, chat_id))
            return reply(bad_request(c, *err));
          send_command(svc, c, std::move(reply), link_telegram_atom::value, idempotency_key(c),
                       std::move(email), chat_id);
        });
}

} // namespace fw::gateway
