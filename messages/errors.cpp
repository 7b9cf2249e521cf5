#include "messages/errors.hpp"

#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace fw {

const char* to_string(ec code) {
  switch (code) {
    case ec::none:
      return "none";
    case ec::invalid_argument:
      return "invalid_argument";
    case ec::not_found:
      return "not_found";
    case ec::conflict:
      return "conflict";
    case ec::unprocessable:
      return "unprocessable";
    case ec::unavailable:
      return "unavailable";
    case ec::timeout:
      return "timeout";
    case ec::internal:
      return "internal";
  }
  return "unknown";
}

caf::error make_error(ec code) {
  return caf::error{static_cast<std::uint8_t>(code), ec_category};
}

caf::error make_error(ec code, std::string message) {
  return caf::error{static_cast<std::uint8_t>(code), ec_category,
                    caf::make_message(std::move(message))};
}

ec code_of(const caf::error& err) {
  if (err.category() != ec_category)
    return ec::internal;
  return static_cast<ec>(err.code());
}

std::string message_of(const caf::error& err) {
  const auto& ctx = err.context();
  if (err.category() == ec_category && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return caf::to_string(err);
}

} // namespace fw
