#pragma once
// The project's error codes, carried inside actors as caf::error (category "flightwatch")
// and mapped to HTTP statuses by the gateway in one table (gateway/error_status.cpp).

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <cstdint>
#include <string>

namespace fw {

enum class ec : std::uint8_t {
  none = 0,
  invalid_argument,    // the request is malformed or a field is invalid
  not_found,           // the addressed entity does not exist
  conflict,            // it exists already / is in use
  unprocessable,       // well-formed but refers to something inconsistent
  unavailable,         // a dependency (role, storage, broker) is down or not ready
  timeout,             // a dependency did not answer in time
  internal,            // a bug or an unexpected library failure
};

/// Error category atom for caf::error values built from fw::ec.
constexpr caf::atom_value ec_category = caf::atom("flightwtch");

/// Short machine-readable name, e.g. "not_found".
const char* to_string(ec code);

caf::error make_error(ec code);
caf::error make_error(ec code, std::string message);

/// The fw::ec inside `err`, or ec::internal for errors of other categories.
ec code_of(const caf::error& err);
/// The human-readable message carried in `err` (its context), or a rendering of it.
std::string message_of(const caf::error& err);

} // namespace fw
