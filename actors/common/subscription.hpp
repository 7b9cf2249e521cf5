#pragma once
// Keeps a role subscribed to topics: subscribes at start, watches the topics service and
// subscribes again when it was restarted (or was not running yet).

#include "actors/common/log.hpp"
#include "actors/common/node_context.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_cast.hpp>
#include <caf/scheduled_actor.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace fw {

/// Subscribes `self` to `topics` on the node's topics service, now and after every
/// restart of that service. `Self` must accept subscribe_atom (it calls this again) and
/// call this again from its down handler (the service it monitors went down).
template <class Self>
void keep_subscribed(Self* self, node_context_ptr ctx, std::vector<std::string> topics,
                     const char* component) {
  auto broker = caf::actor_cast<topic_broker_actor>(ctx->directory->get("topics"));
  auto retry = [=] {
    self->delayed_send(self, std::chrono::milliseconds{200}, subscribe_atom::value);
  };
  if (!broker) {
    retry();
    return;
  }
  self->monitor(broker);
  for (const auto& topic : topics)
    self->request(broker, std::chrono::seconds{5}, subscribe_atom::value, topic,
                  caf::actor_cast<caf::actor>(self))
      .then([] {},
            [component, topic, retry](caf::error& err) {
              log::warn(component, "subscribing to ", topic, " failed: ", message_of(err));
              retry();
            });
}

} // namespace fw
