#pragma once
// The gateway's route table. Each role's routes are added by one function; the HTTP
// prefixes are the seed system's: /user-manager, /data-collector, /sla-detector.

#include "actors/common/node_context.hpp"
#include "gateway/role_client.hpp"
#include "gateway/router.hpp"

namespace fw::gateway {

struct route_services {
  node_context_ptr ctx;
  std::shared_ptr<role_client> roles;
  /// A detached actor that runs bridge_tasks too slow for an I/O thread (the metrics text);
  /// without one they run on the I/O thread.
  caf::actor renderer;
};

/// The HTTP prefix of each role that has one, e.g. {"/user-manager", "user-manager"}.
const std::vector<std::pair<std::string, std::string>>& role_prefixes();

/// GET /health, GET /metrics, and GET <prefix>/ping, <prefix>/health, <prefix>/metrics.
/// A role that does not run here answers 503 naming it.
void add_node_routes(router& r, const route_services& svc);

} // namespace fw::gateway
