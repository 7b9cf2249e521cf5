#include "actors/user_manager/user_manager.hpp"

#include "actors/common/basic_role.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

namespace fw {

caf::actor spawn_user_manager(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(basic_role<user_manager_tag>, ctx));
}

} // namespace fw
