#pragma once
// Every message type and atom of the project, in one CAF type-ID block. The build uses
// CAF_ENABLE_TYPE_ID_CHECKS, so sending a type missing here fails to compile instead of
// failing at run time on a remote node. announce.hpp registers the block.

#include "messages/types.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/type_id.hpp>

#include <vector>

CAF_BEGIN_TYPE_ID_BLOCK(flightwatch, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(flightwatch, (fw::pong))
  CAF_ADD_TYPE_ID(flightwatch, (fw::component_health))
  CAF_ADD_TYPE_ID(flightwatch, (fw::bridge_task))
  CAF_ADD_TYPE_ID(flightwatch, (fw::user))
  CAF_ADD_TYPE_ID(flightwatch, (std::vector<fw::user>))
  CAF_ADD_TYPE_ID(flightwatch, (fw::command_reply))
  CAF_ADD_TYPE_ID(flightwatch, (fw::db_task))

  CAF_ADD_ATOM(flightwatch, fw, ping_atom, "ping")
  CAF_ADD_ATOM(flightwatch, fw, health_atom, "health")
  CAF_ADD_ATOM(flightwatch, fw, shutdown_atom, "shutdown")
  CAF_ADD_ATOM(flightwatch, fw, restart_atom, "restart")
  CAF_ADD_ATOM(flightwatch, fw, create_user_atom, "createuser")
  CAF_ADD_ATOM(flightwatch, fw, get_user_atom, "getuser")
  CAF_ADD_ATOM(flightwatch, fw, list_users_atom, "listusers")
  CAF_ADD_ATOM(flightwatch, fw, delete_user_atom, "deleteuser")
  CAF_ADD_ATOM(flightwatch, fw, link_telegram_atom, "linktg")
  CAF_ADD_ATOM(flightwatch, fw, user_exists_atom, "userexists")
  CAF_ADD_ATOM(flightwatch, fw, delete_interests_atom, "delintrsts")
  CAF_ADD_ATOM(flightwatch, fw, purge_atom, "purge")

CAF_END_TYPE_ID_BLOCK(flightwatch)

// bridge_task and db_task hold closures: they are only ever delivered inside one process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fw::bridge_task)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fw::db_task)
