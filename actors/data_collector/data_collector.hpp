#pragma once
// The data-collector role (the seed's Data Collector): users' airport interests with
// thresholds, flight queries over what has been collected, and the collection loop
// (collector.hpp) that fetches from OpenSky. Database work runs on the storage workers.

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

/// Spawns the role; settings: collector.*, opensky.*, storage.timeout.
caf::actor spawn_data_collector(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
