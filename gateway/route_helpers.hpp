#pragma once
// What the role route files share: reading JSON bodies and query parameters with clear
// 400 reasons, and answering with a role's reply as JSON or its error mapped to a status.

#include "gateway/error_status.hpp"
#include "gateway/responses.hpp"
#include "gateway/routes.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>

namespace fw::gateway {

/// Why a request is rejected with 400 invalid_argument.
struct bad_input {
  std::string message;
};

/// The request body as a JSON object (whatever Content-Type says), or why not.
std::variant<nlohmann::json, bad_input> json_object(const request_context& c);

/// A string field; absent or null is an error only when `required`.
std::optional<bad_input> string_field(const nlohmann::json& body, const char* key, bool required,
                                      std::string& out);

/// An optional non-null integer field (JSON integer within int64).
std::optional<bad_input> optional_int_field(const nlohmann::json& body, const char* key,
                                            caf::optional<std::int64_t>& out);

/// An optional integer query parameter; `out` keeps its value when absent.
std::optional<bad_input> int_param(const request_context& c, const char* key,
                                   std::int64_t& out);
std::optional<bad_input> int_param(const request_context& c, const char* key,
                                   caf::optional<std::int64_t>& out);

/// A query parameter or "" when absent.
std::string text_param(const request_context& c, const char* key);

response bad_request(const request_context& c, const bad_input& why);

/// Asks `role` for a Reply and answers with `to_response(reply, version, keep_alive)`, or
/// the mapped error. The helpers below shape the response for each kind of reply.
template <class Reply, class ToResponse, class... Ts>
void answer_with(const route_services& svc, const std::string& role, const request_context& c,
                 reply_fn reply, ToResponse to_response, Ts... msg) {
  svc.roles->ask<Reply>(
    role,
    [reply = std::move(reply), version = c.req.version(), keep_alive = c.req.keep_alive(),
     to_response = std::move(to_response)](caf::expected<Reply> r) {
      if (r)
        reply(to_response(*r, version, keep_alive));
      else
        reply(error_reply(r.error(), version, keep_alive));
    },
    std::move(msg)...);
}

/// Asks `role` and answers `status` with `to_body(reply)` (a JSON value, or JSON text
/// written directly), or the mapped error.
template <class Reply, class ToBody, class... Ts>
void answer(const route_services& svc, const std::string& role, const request_context& c,
            reply_fn reply, http::status status, ToBody to_body, Ts... msg) {
  answer_with<Reply>(
    svc, role, c, std::move(reply),
    [status, to_body = std::move(to_body)](Reply& r, unsigned version, bool keep_alive) {
      if constexpr (std::is_same_v<decltype(to_body(r)), std::string>)
        return json_text_response(status, to_body(r), version, keep_alive);
      else
        return json_response(status, to_body(r), version, keep_alive);
    },
    std::move(msg)...);
}

/// Asks `role` for a command_reply and answers with its status and JSON body; a replay of
/// an idempotent command says so in the Idempotent-Replayed header.
template <class... Ts>
void answer_command(const route_services& svc, const std::string& role, const request_context& c,
                    reply_fn reply, Ts... msg) {
  answer_with<command_reply>(
    svc, role, c, std::move(reply),
    [](command_reply& r, unsigned version, bool keep_alive) {
      auto res = json_text_response(static_cast<http::status>(r.status), std::move(r.body),
                                    version, keep_alive);
      if (r.replayed)
        res.set("Idempotent-Replayed", "true");
      return res;
    },
    std::move(msg)...);
}

/// Asks `role` for a JSON text and answers 200 with it, or the mapped error.
template <class... Ts>
void answer_json_text(const route_services& svc, const std::string& role,
                      const request_context& c, reply_fn reply, Ts... msg) {
  answer_with<std::string>(
    svc, role, c, std::move(reply),
    [](std::string& text, unsigned version, bool keep_alive) {
      return json_text_response(http::status::ok, std::move(text), version, keep_alive);
    },
    std::move(msg)...);
}

/// Whether the request's Accept-Encoding fields accept a gzip-encoded body.
bool accepts_gzip(const request_context& c);

/// 200 with `body` (Content-Encoding: gzip when the role encoded it). The representation
/// depends on Accept-Encoding, which Vary tells caches on the way.
response json_body_response(json_body&& body, unsigned version, bool keep_alive);

/// The same for a body owned or shared (a kept page, sent without a copy).
response json_body_response(text_body::value_type content, bool gzip, unsigned version,
                            bool keep_alive);

/// Asks `role` for a json_body and answers with json_body_response(), or the mapped error.
template <class... Ts>
void answer_json_body(const route_services& svc, const std::string& role,
                      const request_context& c, reply_fn reply, Ts... msg) {
  answer_with<json_body>(
    svc, role, c, std::move(reply),
    [](json_body& body, unsigned version, bool keep_alive) {
      return json_body_response(std::move(body), version, keep_alive);
    },
    std::move(msg)...);
}

/// The reply itself as the JSON body.
inline constexpr auto as_json = [](const auto& x) { return nlohmann::json(x); };

/// The reply as JSON text, written without the DOM (flights: messages/json.hpp).
inline constexpr auto as_json_text = [](const auto& x) { return to_json_text(x); };

} // namespace fw::gateway
