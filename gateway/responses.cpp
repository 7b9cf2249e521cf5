#include "gateway/responses.hpp"

#include "messages/json.hpp"

#include <string>

namespace fw::gateway {

response json_text_response(http::status status, text_body::value_type body,
                            unsigned version, bool keep_alive) {
  response res{status, version};
  res.set(http::field::server,
          boost::beast::string_view{server_name.data(), server_name.size()});
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response json_response(http::status status, const nlohmann::json& body,
                       unsigned version, bool keep_alive) {
  return json_text_response(
    status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), version,
    keep_alive);
}

response error_response(http::status status, std::string_view error,
                        std::string_view message, unsigned version,
                        bool keep_alive) {
  return json_text_response(status, error_body(error, message), version, keep_alive);
}

} // namespace fw::gateway
