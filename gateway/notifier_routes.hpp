#pragma once
// The notifier's HTTP routes (prefix /notifier): a user's notification history.

#include "gateway/routes.hpp"

namespace fw::gateway {

/// GET /notifier/notifications/{email}?limit=N (default 50).
void add_notifier_routes(router& r, const route_services& svc);

} // namespace fw::gateway
