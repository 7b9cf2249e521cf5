#pragma once
// The gateway role: owns the HTTP server, its route table and the bridge actors that let
// I/O threads talk to roles without blocking. Runs detached because starting and
// draining the server block. On exit it stops accepting, drains in-flight requests for
// gateway.drain_timeout, then stops its bridges.

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

struct gateway_tag {
  static constexpr const char* name = "gateway";
};

caf::actor spawn_gateway(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
