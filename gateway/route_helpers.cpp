#include "gateway/route_helpers.hpp"

#include "gateway/content_coding.hpp"

#include <charconv>
#include <limits>

namespace fw::gateway {

std::variant<nlohmann::json, bad_input> json_object(const request_context& c) {
  nlohmann::json body;
  if (c.json)
    body = *c.json;
  else if (!c.req.body().empty())
    body = nlohmann::json::parse(c.req.body(), nullptr, false);
  if (body.is_discarded())
    return bad_input{"the request body is not valid JSON"};
  if (!body.is_object())
    return bad_input{"expected a JSON object body"};
  return body;
}

std::optional<bad_input> string_field(const nlohmann::json& body, const char* key, bool required,
                                      std::string& out) {
  auto i = body.find(key);
  if (i == body.end() || i->is_null()) {
    if (required)
      return bad_input{std::string{key} + " is required"};
    return std::nullopt;
  }
  if (!i->is_string())
    return bad_input{std::string{key} + " must be a string"};
  out = i->get<std::string>();
  return std::nullopt;
}

std::optional<bad_input> optional_int_field(const nlohmann::json& body, const char* key,
                                            caf::optional<std::int64_t>& out) {
  auto i = body.find(key);
  if (i == body.end() || i->is_null()) {
    out = caf::none;
    return std::nullopt;
  }
  if (!i->is_number_integer()
      || (i->is_number_unsigned()
          && i->get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max())))
    return bad_input{std::string{key} + " must be an integer"};
  out = i->get<std::int64_t>();
  return std::nullopt;
}

std::optional<bad_input> int_param(const request_context& c, const char* key,
                                   std::int64_t& out) {
  auto i = c.query.find(key);
  if (i == c.query.end())
    return std::nullopt;
  const auto& text = i->second;
  std::int64_t value = 0;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || err != std::errc{} || end != text.data() + text.size())
    return bad_input{std::string{key} + " must be an integer"};
  out = value;
  return std::nullopt;
}

std::optional<bad_input> int_param(const request_context& c, const char* key,
                                   caf::optional<std::int64_t>& out) {
  if (c.query.find(key) == c.query.end())
    return std::nullopt;
  std::int64_t value = 0;
  if (auto err = int_param(c, key, value))
    return err;
  out = value;
  return std::nullopt;
}

std::string text_param(const request_context& c, const char* key) {
  auto i = c.query.find(key);
  return i == c.query.end() ? std::string{} : i->second;
}

response bad_request(const request_context& c, const bad_input& why) {
  return error_response(http::status::bad_request, "invalid_argument", why.message,
                        c.req.version(), c.req.keep_alive());
}

bool accepts_gzip(const request_context& c) {
  std::string fields; // a list may be split over several fields (RFC 9110 §5.3)
  for (auto [it, end] = c.req.equal_range(http::field::accept_encoding); it != end; ++it) {
    if (!fields.empty())
      fields += ',';
    fields.append(it->value().data(), it->value().size());
  }
  return accepts_gzip(std::string_view{fields});
}

response json_body_response(json_body&& body, unsigned version, bool keep_alive) {
  return json_body_response(std::move(body.content), body.gzip, version, keep_alive);
}

response json_body_response(text_body::value_type content, bool gzip, unsigned version,
                            bool keep_alive) {
  auto res = json_text_response(http::status::ok, std::move(content), version, keep_alive);
  if (gzip)
    res.set(http::field::content_encoding, "gzip");
  res.set(http::field::vary, "Accept-Encoding");
  return res;
}

} // namespace fw::gateway
