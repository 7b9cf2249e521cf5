#include "gateway/responses.hpp"

#include <string>

namespace fw::gateway {

response json_response(http::status status, const nlohmann::json& body,
                       unsigned version, bool keep_alive) {
  response res{status, version};
  res.set(http::field::server,
          boost::beast::string_view{server_name.data(), server_name.size()});
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.prepare_payload();
  return res;
}

response error_response(http::status status, std::string_view error,
                        std::string_view message, unsigned version,
                        bool keep_alive) {
  nlohmann::json body = nlohmann::json::object();
  body["error"] = std::string{error};
  body["message"] = std::string{message};
  return json_response(status, body, version, keep_alive);
}

} // namespace fw::gateway
