#pragma once
// The data-collector role: interests, flight queries and the OpenSky collection (prefix /data-collector).
// Until its own protocol lands it answers ping and health (see basic_role.hpp).

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

struct data_collector_tag {
  static constexpr const char* name = "data-collector";
};

/// Spawns the data-collector role of this node.
caf::actor spawn_data_collector(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
