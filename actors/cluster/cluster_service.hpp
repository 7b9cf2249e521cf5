#pragma once
// The cluster service of a node ("cluster" in the role directory). With cluster.port set
// it publishes itself there (CAF's network transport; TLS with cluster.tls_*), connects
// to cluster.seeds without blocking, and exchanges node_info with every peer it reaches:
// each side learns the other's roles (entered in the role directory, so requests for a
// role this node lacks go to a peer) and the peers it knows (so one seed is enough).
// Peers are monitored: a lost peer (killed, or silent for cluster.connection_timeout) has
// its roles withdrawn at once and is reconnected with backoff. Every 500 ms each peer is
// greeted again, which carries restarted roles' new handles. Without cluster.port the
// service only reports this node in GET /cluster/status.

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

#include <string>

namespace fw {

caf::actor spawn_cluster_service(caf::actor_system& sys, const node_context_ptr& ctx);

/// "host:port" split; false when it is not one.
bool split_address(const std::string& address, std::string& host, std::uint16_t& port);

} // namespace fw
