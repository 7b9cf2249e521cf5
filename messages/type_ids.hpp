#pragma once
// Every message type and atom of the project, in one CAF type-ID block. The build uses
// CAF_ENABLE_TYPE_ID_CHECKS, so sending a type missing here fails to compile instead of
// failing at run time on a remote node. announce.hpp registers the block.

#include "messages/types.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/type_id.hpp>

CAF_BEGIN_TYPE_ID_BLOCK(flightwatch, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(flightwatch, (fw::pong))
  CAF_ADD_TYPE_ID(flightwatch, (fw::component_health))
  CAF_ADD_TYPE_ID(flightwatch, (fw::bridge_task))

  CAF_ADD_ATOM(flightwatch, fw, ping_atom, "ping")
  CAF_ADD_ATOM(flightwatch, fw, health_atom, "health")
  CAF_ADD_ATOM(flightwatch, fw, shutdown_atom, "shutdown")
  CAF_ADD_ATOM(flightwatch, fw, restart_atom, "restart")

CAF_END_TYPE_ID_BLOCK(flightwatch)

// bridge_task holds a closure: it is only ever delivered inside one process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fw::bridge_task)
