#pragma once
// The node's topics in process ("topics" in the role directory): to-alert-system,
// to-notifier, sla_breach. A published event goes to every actor subscribed to its topic
// as (topic_event_atom, topic, payload); subscribers that stop are dropped. The Kafka
// transport (alert pipeline) keeps this interface.

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

/// Topic names, as the seed's Kafka topics.
inline constexpr const char* topic_to_alert_system = "to-alert-system";
inline constexpr const char* topic_to_notifier = "to-notifier";
inline constexpr const char* topic_sla_breach = "sla_breach";

caf::actor spawn_topic_broker(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
