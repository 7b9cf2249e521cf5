#pragma once
// The behaviour every role starts from: it answers ping and health. A role whose own
// protocol is not built yet runs just this; the others extend it with their handlers.

#include "actors/common/exceptions.hpp"
#include "actors/common/node_context.hpp"
#include "messages/interfaces.hpp"

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
  self->state.ctx = std::move(ctx);
  return {
    [self](ping_atom) { return self->state.ctx->make_pong(Tag::name); },
    [](health_atom) { return component_health{Tag::name, true, {}}; },
  };
}

} // namespace fw
