#include "actors/notifier/notifier.hpp"

#include "actors/common/basic_role.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

namespace fw {

caf::actor spawn_notifier(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(basic_role<notifier_tag>, ctx));
}

} // namespace fw
