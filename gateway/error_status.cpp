#include "gateway/error_status.hpp"

#include "gateway/responses.hpp"
#include "messages/errors.hpp"

#include <caf/error.hpp>
#include <caf/sec.hpp>

namespace fw::gateway {

namespace {

struct mapping {
  http::status status;
  const char* code;
};

mapping map_error(const caf::error& err) {
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
      case caf::sec::request_timeout:
        return {http::status::gateway_timeout, "timeout"};
      case caf::sec::request_receiver_down:
        return {http::status::service_unavailable, "unavailable"};
      default:
        return {http::status::internal_server_error, "internal_error"};
    }
  }
  switch (code_of(err)) {
    case ec::invalid_argument:
      return {http::status::bad_request, "invalid_argument"};
    case ec::not_found:
      return {http::status::not_found, "not_found"};
    case ec::conflict:
      return {http::status::conflict, "conflict"};
    case ec::unprocessable:
      return {http::status::unprocessable_entity, "unprocessable"};
    case ec::unavailable:
      return {http::status::service_unavailable, "unavailable"};
    case ec::timeout:
      return {http::status::gateway_timeout, "timeout"};
    default:
      return {http::status::internal_server_error, "internal_error"};
  }
}

std::string describe(const caf::error& err) {
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
      case caf::sec::request_timeout:
        return "the role did not answer in time";
      case caf::sec::request_receiver_down:
        return "the role stopped before answering";
      default:
        return "internal error";
    }
  }
  if (err.category() == ec_category)
    return message_of(err);
  return "internal error";
}

} // namespace

response error_reply(const caf::error& err, unsigned version, bool keep_alive) {
  auto [status, code] = map_error(err);
  return error_response(status, code, describe(err), version, keep_alive);
}

} // namespace fw::gateway
