#include "actors/alert_evaluator/alert_evaluator.hpp"

#include "actors/common/basic_role.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

namespace fw {

caf::actor spawn_alert_evaluator(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(basic_role<alert_evaluator_tag>, ctx));
}

} // namespace fw
