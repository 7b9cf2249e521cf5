#pragma once
// The collection loop of the data-collector: every collector.interval it fetches
// arrivals and departures over the last collector.window for each airport someone is
// interested in (at most collector.max_in_flight airports at a time), stores the new
// flights, and publishes one to-alert-system event per interest of that airport with the
// number of flights stored for the window. A new airport is collected at once. When
// OpenSky fails nothing is stored and no event goes out: the failure is counted and
// logged, and the next tick tries again.

#include "actors/common/node_context.hpp"
#include "messages/interfaces.hpp"

namespace fw {

/// Spawns the collector linked to `owner` (the data-collector role).
collector_actor spawn_collector(caf::local_actor* owner, const node_context_ptr& ctx);

} // namespace fw
