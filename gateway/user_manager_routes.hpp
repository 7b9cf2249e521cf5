#pragma once
// The user-manager's HTTP routes (prefix /user-manager, the seed's paths and bodies):
// request bodies are parsed and type-checked here, the rules and the idempotency live in
// the role (actors/user_manager/).

#include "gateway/routes.hpp"

namespace fw::gateway {

/// POST/GET /users, GET/DELETE /users/{email}, POST /users/telegram.
void add_user_manager_routes(router& r, const route_services& svc);

} // namespace fw::gateway
