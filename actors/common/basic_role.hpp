#pragma once
// The behaviour every role starts from: it answers ping and health. A role whose own
// protocol is not built yet runs just this (see actors/node/roles.cpp).

#include "actors/common/exceptions.hpp"
#include "actors/common/node_context.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace fw {

/// State of a role that only answers liveness and readiness. `Tag::name` is the role name.
template <class Tag>
struct basic_role_state {
  static constexpr const char* name = Tag::name;
  node_context_ptr ctx;
};

template <class Tag>
role_actor::behavior_type basic_role(role_actor::stateful_pointer<basic_role_state<Tag>> self,
                                     node_context_ptr ctx) {
  log_exceptions(self, Tag::name);
  // A request this role does not handle yet gets sec::unexpected_message back, without
  // CAF's default handler printing it to stdout.
  self->set_default_handler(caf::drop);
  self->state.ctx = std::move(ctx);
  return {
    [self](ping_atom) { return self->state.ctx->make_pong(Tag::name); },
    [](health_atom) { return component_health{Tag::name, true, {}}; },
  };
}

/// Spawns a role that answers ping and health as `Tag::name`.
template <class Tag>
caf::actor spawn_basic_role(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(basic_role<Tag>, ctx));
}

} // namespace fw
