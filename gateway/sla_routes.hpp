#pragma once
// The SLA watchdog's HTTP routes (prefix /sla-detector, as the seed's collection): its
// document and the breach statistics. Ping, health and metrics come with every prefix.

#include "gateway/routes.hpp"

namespace fw::gateway {

/// GET and POST /sla-detector/sla/config, GET /sla-detector/breach/stats.
void add_sla_routes(router& r, const route_services& svc);

} // namespace fw::gateway
