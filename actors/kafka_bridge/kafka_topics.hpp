#pragma once
// The node's topics over Kafka ("topics" in the role directory when kafka.brokers is set):
// the same topic_broker_actor protocol as the in-process broker (actors/common/
// topic_broker.hpp), with
// - publish answered only once the broker acknowledged the event (idempotent producer,
//   acks=all); ec::unavailable at once when the bounded producer buffer is full;
// - per subscription (subscribing actor, topic) one consumer-group consumer that sends
//   each record to the subscriber as a request (topic_event_atom, topic, payload) and
//   commits its offset only after the answer (at-least-once), with at most
//   kafka.max_in_flight records unanswered per subscription;
// - health "topics" not ready while no broker is reachable (the node stays up).
//
// Consumer group of a subscription: "<group_prefix>.<topic>". One role consumes each
// topic (alert-evaluator: to-alert-system; notifier: to-notifier and sla_breach), so all
// its instances, on any node, share the topic's partitions and each event is handled
// once; a group per topic (not per role) keeps a rebalance of one topic from stalling the
// others. A subscriber that needs a group of its own sends the extended form
// (subscribe_atom, topic, actor, std::string name): group "<group_prefix>.<name>.<topic>".
//
// Threads: the actor runs on CAF's scheduler and never blocks; the producer and every
// consumer have their own poll thread (kafka_producer, kafka_consumer), which hand
// delivery reports and records to the actor as bridge_task messages.

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace fw {

struct kafka_topics_config {
  std::string brokers; // bootstrap.servers
  std::string group_prefix = "flightwatch";
  std::string client_id = "flightwatch";             // + node name, for the broker's logs
  std::uint64_t buffer_max_messages = 100000;        // produced, not yet acknowledged by the broker
  unsigned max_in_flight = 256;                      // records unanswered per subscription
  duration fetch_wait{std::chrono::milliseconds{5}}; // consumers' fetch.wait.max.ms
  duration linger{std::chrono::milliseconds{1}};     // producer's linger.ms
  duration delivery_timeout{std::chrono::seconds{30}};    // a subscriber's answer; then redelivered
  duration retry_backoff{std::chrono::milliseconds{200}}; // first redelivery delay, doubled...
  duration retry_backoff_max{std::chrono::seconds{10}};   // ...up to this
  duration probe_interval{std::chrono::seconds{5}};       // broker reachability while reachable
  duration probe_timeout{std::chrono::milliseconds{500}};
  duration lag_interval{std::chrono::seconds{5}};     // consumer lag gauge refresh
  duration flush_timeout{std::chrono::seconds{2}};    // producer flush on shutdown
  duration shutdown_timeout{std::chrono::seconds{4}}; // flush + closing consumers, at most
  std::map<std::string, std::string> properties;      // extra librdkafka properties, applied last

  /// "<key>: why", or nothing when usable.
  std::optional<std::string> validate() const;

  /// From the node's settings (kafka.*; shutdown bounded by node.shutdown_timeout).
  static kafka_topics_config from(const settings& s);
};

/// The consumer group of a subscription (see above); `name` empty for the plain form.
std::string consumer_group(const kafka_topics_config& cfg, const std::string& topic,
                           const std::string& name = {});

/// Spawns the Kafka topics with the node's settings (a role_factory).
caf::actor spawn_kafka_topics(caf::actor_system& sys, const node_context_ptr& ctx);

/// Spawns the Kafka topics with explicit settings (tests).
caf::actor spawn_kafka_topics_with(caf::actor_system& sys, const node_context_ptr& ctx,
                                   kafka_topics_config cfg);

/// The node's topics service for its settings: Kafka when kafka.brokers is set, else the
/// in-process broker (a role_factory for "topics").
caf::actor spawn_topics(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
