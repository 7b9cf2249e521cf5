#include "actors/sla_watchdog/sla_watchdog.hpp"

#include "actors/common/basic_role.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

namespace fw {

caf::actor spawn_sla_watchdog(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(basic_role<sla_watchdog_tag>, ctx));
}

} // namespace fw
