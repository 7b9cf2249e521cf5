#pragma once
// The one table from errors inside actors to HTTP statuses and JSON error bodies.

#include "gateway/http_types.hpp"

#include <caf/fwd.hpp>

namespace fw::gateway {

/// {"error": "<code>", "message": "..."} with the status that fits the error:
/// invalid_argument 400, not_found 404, conflict 409, unprocessable 422, unavailable and
/// a dead receiver 503, timeouts 504, anything else 500.
response error_reply(const caf::error& err, unsigned version, bool keep_alive);

} // namespace fw::gateway
