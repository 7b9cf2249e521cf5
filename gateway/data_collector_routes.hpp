#pragma once
// The data-collector's HTTP routes (prefix /data-collector, the seed's paths and bodies):
// interests with thresholds and the flight queries. Bodies and query parameters are
// type-checked here; the rules live in the role (actors/data_collector/).

#include "gateway/routes.hpp"

namespace fw::gateway {

/// POST/PUT/DELETE /interests, GET /interests/{email}, GET /flights/{airport},
/// GET /flights/average/{icao}, GET /flights/last/{icao}.
void add_data_collector_routes(router& r, const route_services& svc);

} // namespace fw::gateway
