#pragma once

#include "gateway/http_types.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace fw::gateway {

/// Value of the `Server` header on every response the gateway builds.
inline constexpr std::string_view server_name = "flightwatch";

/// A response with `body` serialized as JSON (invalid UTF-8 is replaced, never
/// throws for it), `Content-Type: application/json`, `Server: flightwatch`,
/// Content-Length set, and keep-alive as requested.
response json_response(http::status status, const nlohmann::json& body,
                       unsigned version = 11, bool keep_alive = true);

/// A JSON response whose body is already serialized JSON text, owned or shared (a kept
/// answer is sent from where it is kept).
response json_text_response(http::status status, text_body::value_type body,
                            unsigned version = 11, bool keep_alive = true);

/// `{"error": "<error>", "message": "<message>"}` built with json_response.
/// `error` is a stable machine-readable code ("payload_too_large"), `message`
/// a human-readable explanation. Every error the server produces uses this.
response error_response(http::status status, std::string_view error,
                        std::string_view message, unsigned version = 11,
                        bool keep_alive = true);

} // namespace fw::gateway
