#include "actors/kafka_bridge/kafka_topics.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "actors/common/topic_broker.hpp"
#include "actors/kafka_bridge/kafka_consumer.hpp"
#include "actors/kafka_bridge/kafka_producer.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <unordered_map>

namespace fw {

namespace {

struct subscription {
  std::string topic;
  std::string group;
  caf::actor subscriber;
  std::unique_ptr<kafka::kafka_consumer> consumer;
  prometheus::Counter* consumed = nullptr;
  prometheus::Counter* redelivered = nullptr;
};

struct pending_publish {
  caf::response_promise promise;
  std::string topic;
};

struct topics_state {
  static constexpr const char* name = "topics";
  node_context_ptr ctx;
  kafka_topics_config cfg;
  std::unique_ptr<kafka::kafka_producer> producer;
  std::string broken; // why the producer does not run (bad config, fatal error)

  std::uint64_t next_publish = 1;
  std::unordered_map<std::uint64_t, pending_publish> pending; // id -> waiting publisher
  std::uint64_t next_subscription = 1;
  std::map<std::uint64_t, subscription> subscriptions;
  std::map<std::uint64_t, std::unique_ptr<kafka::kafka_consumer>> closing; // of gone subscribers

  std::size_t running = 0; // poll threads that have not reported their end yet
  bool stopping = false;
  bool finished = false;
  caf::error exit_reason;

  prometheus::Family<prometheus::Counter>* produced = nullptr;
  prometheus::Family<prometheus::Counter>* produce_failures = nullptr;
  prometheus::Family<prometheus::Counter>* consumed = nullptr;
  prometheus::Family<prometheus::Counter>* redelivered = nullptr;
  prometheus::Family<prometheus::Gauge>* lag = nullptr;
  std::map<std::tuple<prometheus::Family<prometheus::Counter>*, std::string, std::string>,
           prometheus::Counter*>
      counters;

  prometheus::Labels labels(const std::string& topic) const {
    auto out = ctx->metrics->labels(name);
    out.emplace("topic", topic);
    return out;
  }

  prometheus::Counter& counter(prometheus::Family<prometheus::Counter>* family,
                               const std::string& topic, const std::string& reason = {}) {
    auto& c = counters[{family, topic, reason}];
    if (!c) {
      auto l = labels(topic);
      if (!reason.empty())
        l.emplace("reason", reason);
      c = &family->Add(l);
    }
    return *c;
  }

  ~topics_state() {
    // Killed before finishing: nobody waits for the broker's verdict any more.
    for (auto& [id, p] : pending)
      p.promise.deliver(make_error(ec::unavailable, "topics stopped"));
  }
};

using topics_actor = caf::stateful_actor<topics_state>;

/// Runs a function on the actor from any thread (the poll threads), while it lives. Holds
/// the actor weakly so the threads never keep it alive.
class poster {
public:
  explicit poster(caf::actor_addr addr) : addr_(std::move(addr)) {}

  template <class F>
  void operator()(F f) const {
    auto hdl = caf::actor_cast<caf::actor>(addr_);
    if (!hdl)
      return;
    caf::anon_send(hdl, bridge_task{[f = std::move(f)](caf::event_based_actor* self) {
                     f(static_cast<topics_actor*>(self));
                   }});
  }

private:
  caf::actor_addr addr_;
};

// -- shutdown ----------------------------------------------------------------------------

void finish(topics_actor* self) {
  auto& st = self->state;
  if (st.finished)
    return;
  st.finished = true;
  for (auto& [id, p] : st.pending)
    p.promise.deliver(
        make_error(ec::unavailable, "topics stopped before Kafka acknowledged the event"));
  st.pending.clear();
  self->quit(st.exit_reason);
}

void component_stopped(topics_actor* self) {
  auto& st = self->state;
  if (st.running > 0)
    --st.running;
  if (st.stopping && st.running == 0)
    finish(self);
}

/// Stop accepting, flush the producer, commit and close the consumers; quit once every
/// poll thread reported its end, or after shutdown_timeout.
void begin_shutdown(topics_actor* self, caf::error reason) {
  auto& st = self->state;
  if (st.stopping)
    return;
  st.stopping = true;
  st.exit_reason = std::move(reason);
  for (auto& [id, sub] : st.subscriptions)
    sub.consumer->stop();
  if (st.producer)
    st.producer->stop();
  if (st.running == 0) {
    finish(self);
    return;
  }
  self->delayed_send(self, st.cfg.shutdown_timeout, bridge_task{[](caf::event_based_actor* s) {
                       auto* self = static_cast<topics_actor*>(s);
                       log::warn("topics", self->state.running,
                                 " Kafka client(s) still closing after ",
                                 self->state.cfg.shutdown_timeout.count(), " ms: leaving them");
                       finish(self);
                     }});
}

// -- publishing --------------------------------------------------------------------------

void on_delivered(topics_actor* self, const std::vector<kafka::delivery_report>& reports) {
  auto& st = self->state;
  for (const auto& r : reports) {
    auto i = st.pending.find(r.id);
    if (i == st.pending.end())
      continue;
    if (r.error == 0) {
      st.counter(st.produced, i->second.topic).Increment();
      i->second.promise.deliver(caf::unit);
    } else {
      st.counter(st.produce_failures, i->second.topic, "rejected").Increment();
      log::warn("topics", "Kafka did not take an event for ", i->second.topic, ": ", r.error_text);
      i->second.promise.deliver(
          make_error(ec::unavailable, "Kafka did not take the event: " + r.error_text));
    }
    st.pending.erase(i);
  }
}

caf::response_promise publish(topics_actor* self, const std::string& topic, const std::string& key,
                              const std::string& payload) {
  auto rp = self->make_response_promise();
  auto& st = self->state;
  if (topic.empty()) {
    rp.deliver(make_error(ec::invalid_argument, "publish: empty topic"));
    return rp;
  }
  if (st.stopping || !st.producer) {
    rp.deliver(make_error(ec::unavailable, st.stopping
                                               ? "topics are shutting down"
                                               : "Kafka producer not running: " + st.broken));
    return rp;
  }
  auto id = st.next_publish++;
  std::string why;
  switch (st.producer->produce(topic, key, payload, id, why)) {
  case kafka::kafka_producer::result::queued:
    st.pending.emplace(id, pending_publish{rp, topic});
    break;
  case kafka::kafka_producer::result::buffer_full:
    st.counter(st.produce_failures, topic, "buffer_full").Increment();
    rp.deliver(make_error(ec::unavailable, why));
    break;
  case kafka::kafka_producer::result::failed:
    st.counter(st.produce_failures, topic, "error").Increment();
    rp.deliver(make_error(ec::unavailable, why));
    break;
  }
  return rp;
}

// -- consuming ---------------------------------------------------------------------------

void deliver(topics_actor* self, std::uint64_t sub_id, subscription& sub, kafka::record rec);

/// Hands the subscriber what its consumer may deliver now.
void dispatch(topics_actor* self, std::uint64_t sub_id) {
  auto& st = self->state;
  if (st.stopping)
    return;
  auto i = st.subscriptions.find(sub_id);
  if (i == st.subscriptions.end())
    return;
  for (auto& rec : i->second.consumer->take_dispatchable())
    deliver(self, sub_id, i->second, std::move(rec));
}

duration backoff(const kafka_topics_config& cfg, unsigned attempts) {
  auto delay = cfg.retry_backoff;
  for (unsigned i = 1; i < attempts && delay < cfg.retry_backoff_max; ++i)
    delay *= 2;
  return std::min(delay, cfg.retry_backoff_max);
}

void redeliver(topics_actor* self, std::uint64_t sub_id, const kafka::record& ref) {
  auto& st = self->state;
  if (st.stopping)
    return;
  auto i = st.subscriptions.find(sub_id);
  if (i == st.subscriptions.end())
    return;
  if (auto rec = i->second.consumer->retry(ref.partition, ref.generation, ref.offset))
    deliver(self, sub_id, i->second, std::move(*rec));
}

void deliver(topics_actor* self, std::uint64_t sub_id, subscription& sub, kafka::record rec) {
  kafka::record ref{rec.partition, rec.generation, rec.offset, {}, rec.attempts};
  self->request(sub.subscriber, self->state.cfg.delivery_timeout, topic_event_atom::value,
                sub.topic, std::move(rec.payload))
      .then(
          [self, sub_id, ref] {
            auto& st = self->state;
            auto i = st.subscriptions.find(sub_id);
            if (i == st.subscriptions.end())
              return;
            if (i->second.consumer->ack(ref))
              i->second.consumed->Increment();
            dispatch(self, sub_id);
          },
          [self, sub_id, ref](caf::error& err) {
            auto& st = self->state;
            auto i = st.subscriptions.find(sub_id);
            if (i == st.subscriptions.end())
              return;
            auto attempts = i->second.consumer->fail(ref);
            if (attempts == 0)
              return;
            i->second.redelivered->Increment();
            auto delay = backoff(st.cfg, attempts);
            if (attempts == 1 || attempts % 10 == 0)
              log::warn("topics", "a subscriber of ", i->second.topic, " failed the record at ",
                        ref.partition, "/", ref.offset, " (", message_of(err), "), attempt ",
                        attempts, "; delivering it again in ", delay.count(), " ms");
            self->delayed_send(self, delay, bridge_task{[sub_id, ref](caf::event_based_actor* s) {
                                 redeliver(static_cast<topics_actor*>(s), sub_id, ref);
                               }});
          });
}

/// Ends a subscription whose subscriber is gone: its consumer commits what was
/// acknowledged and leaves the group; the rest is redelivered to the group.
void unsubscribe(topics_actor* self, std::uint64_t sub_id) {
  auto& st = self->state;
  auto i = st.subscriptions.find(sub_id);
  if (i == st.subscriptions.end())
    return;
  log::info("topics", "subscriber of ", i->second.topic, " (group ", i->second.group,
            ") is gone: closing its consumer");
  i->second.consumer->stop();
  st.closing.emplace(sub_id, std::move(i->second.consumer));
  st.subscriptions.erase(i);
}

caf::result<void> subscribe(topics_actor* self, const std::string& topic,
                            const caf::actor& subscriber, const std::string& name) {
  auto& st = self->state;
  if (topic.empty() || !subscriber)
    return make_error(ec::invalid_argument, "subscribe: empty topic or subscriber");
  if (st.stopping)
    return make_error(ec::unavailable, "topics are shutting down");
  auto group = consumer_group(st.cfg, topic, name);
  for (const auto& [id, sub] : st.subscriptions)
    if (sub.topic == topic && sub.subscriber == subscriber && sub.group == group)
      return caf::unit; // again (the subscriber re-subscribes after a restart of topics)
  auto sub_id = st.next_subscription++;
  poster post{self->address()};
  kafka::consumer_options opts;
  opts.brokers = st.cfg.brokers;
  opts.client_id = st.cfg.client_id;
  opts.topic = topic;
  opts.group = group;
  opts.max_in_flight = st.cfg.max_in_flight;
  opts.fetch_wait = st.cfg.fetch_wait;
  opts.properties = st.cfg.properties;
  opts.lag_interval = st.cfg.lag_interval;
  opts.close_timeout = st.cfg.shutdown_timeout * 3 / 4; // done before the actor gives up
  auto lag_labels = st.labels(topic);
  lag_labels.emplace("group", group);
  opts.lag = &st.lag->Add(lag_labels);
  opts.keep_alive = st.ctx->metrics;
  kafka::consumer_hooks hooks;
  hooks.records = [post, sub_id] {
    post([sub_id](topics_actor* self) { dispatch(self, sub_id); });
  };
  hooks.stopped = [post, sub_id] {
    post([sub_id](topics_actor* self) {
      auto& st = self->state;
      st.closing.erase(sub_id);
      if (auto i = st.subscriptions.find(sub_id); i != st.subscriptions.end())
        st.subscriptions.erase(i);
      component_stopped(self);
    });
  };
  std::string error;
  auto consumer = kafka::kafka_consumer::start(std::move(opts), std::move(hooks), error);
  if (!consumer) {
    log::error("topics", error);
    return make_error(ec::internal, error);
  }
  ++st.running;
  self->monitor(subscriber);
  subscription sub{topic, group, subscriber, std::move(consumer), nullptr, nullptr};
  sub.consumed = &st.counter(st.consumed, topic);
  sub.redelivered = &st.counter(st.redelivered, topic);
  st.subscriptions.emplace(sub_id, std::move(sub));
  log::info("topics", "subscribed an actor to ", topic, " in consumer group ", group);
  return caf::unit;
}

// -- the actor ---------------------------------------------------------------------------

void register_metrics(topics_state& st) {
  auto& registry = st.ctx->metrics->registry();
  st.produced = &prometheus::BuildCounter()
                     .Name("kafka_produced_total")
                     .Help("Events the Kafka broker acknowledged (publish answered), by topic")
                     .Register(registry);
  st.produce_failures =
      &prometheus::BuildCounter()
           .Name("kafka_produce_failures_total")
           .Help("Publishes answered with an error, by topic and reason (buffer_full, rejected, "
                 "error)")
           .Register(registry);
  st.consumed = &prometheus::BuildCounter()
                     .Name("kafka_consumed_total")
                     .Help("Records consumed from Kafka and acknowledged by their subscriber")
                     .Register(registry);
  st.redelivered = &prometheus::BuildCounter()
                        .Name("kafka_redeliveries_total")
                        .Help("Records delivered again after their subscriber failed them")
                        .Register(registry);
  st.lag = &prometheus::BuildGauge()
                .Name("kafka_consumer_lag")
                .Help("Records in the partitions a consumer owns beyond its group's "
                      "committed offsets, by topic and group")
                .Register(registry);
}

void start_producer(topics_actor* self) {
  auto& st = self->state;
  auto& registry = st.ctx->metrics->registry();
  auto labels = st.ctx->metrics->labels(topics_state::name);
  kafka::producer_options opts;
  opts.brokers = st.cfg.brokers;
  opts.client_id = st.cfg.client_id;
  opts.buffer_max_messages = st.cfg.buffer_max_messages;
  opts.linger = st.cfg.linger;
  opts.properties = st.cfg.properties;
  opts.probe_interval = st.cfg.probe_interval;
  opts.probe_timeout = st.cfg.probe_timeout;
  opts.flush_timeout = st.cfg.flush_timeout;
  opts.queue_depth = &prometheus::BuildGauge()
                          .Name("kafka_producer_queue_depth")
                          .Help("Events produced and not yet acknowledged by the Kafka broker")
                          .Register(registry)
                          .Add(labels);
  opts.reachable = &prometheus::BuildGauge()
                        .Name("kafka_broker_reachable")
                        .Help("1 while a Kafka broker answers the producer, else 0")
                        .Register(registry)
                        .Add(labels);
  opts.keep_alive = st.ctx->metrics;
  poster post{self->address()};
  kafka::producer_hooks hooks;
  hooks.delivered = [post](std::vector<kafka::delivery_report> reports) {
    post([reports = std::move(reports)](topics_actor* self) { on_delivered(self, reports); });
  };
  hooks.fatal = [post](std::string why) {
    post([why](topics_actor* self) {
      self->state.broken = why;
      // A new producer (the supervisor restarts the service) starts a new idempotent
      // session; subscribers subscribe again (keep_subscribed).
      begin_shutdown(self, make_error(ec::internal, "Kafka producer failed: " + why));
    });
  };
  hooks.stopped = [post] { post([](topics_actor* self) { component_stopped(self); }); };
  std::string error;
  st.producer = kafka::kafka_producer::start(std::move(opts), std::move(hooks), error);
  if (!st.producer) {
    st.broken = error;
    log::error("topics", error);
    return;
  }
  ++st.running;
}

caf::behavior kafka_topics(topics_actor* self, node_context_ptr ctx, kafka_topics_config cfg) {
  log_exceptions(self, topics_state::name);
  self->set_default_handler(caf::drop);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.cfg = std::move(cfg);
  register_metrics(st);
  if (auto invalid = st.cfg.validate()) {
    st.broken = "kafka." + *invalid;
    log::error("topics", st.broken);
  } else {
    start_producer(self);
  }
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.reason) // a normal exit of a linked actor is no reason to stop (CAF's default)
      begin_shutdown(self, msg.reason);
  });
  self->set_down_handler([self](caf::down_msg& down) {
    std::vector<std::uint64_t> gone;
    for (const auto& [id, sub] : self->state.subscriptions)
      if (sub.subscriber.address() == down.source)
        gone.push_back(id);
    for (auto id : gone)
      unsubscribe(self, id);
  });
  return {
      [self](ping_atom) { return self->state.ctx->make_pong(topics_state::name); },
      [self](health_atom) {
        auto& st = self->state;
        if (!st.producer || !st.broken.empty())
          return component_health{topics_state::name, false, "Kafka producer: " + st.broken};
        if (st.stopping)
          return component_health{topics_state::name, false, "shutting down"};
        auto h = st.producer->status();
        if (h.ready)
          return component_health{topics_state::name, true, {}};
        return component_health{topics_state::name, false,
                                h.detail + "; " + std::to_string(h.queued) + " event(s) buffered"};
      },
      [self](publish_atom, const std::string& topic, const std::string& key,
             const std::string& payload) { return publish(self, topic, key, payload); },
      [self](subscribe_atom, const std::string& topic, const caf::actor& subscriber) {
        return subscribe(self, topic, subscriber, {});
      },
      [self](subscribe_atom, const std::string& topic, const caf::actor& subscriber,
             const std::string& name) { return subscribe(self, topic, subscriber, name); },
      [self](bridge_task& task) { task.run(self); },
  };
}

} // namespace

std::optional<std::string> kafka_topics_config::validate() const {
  using namespace std::chrono_literals;
  if (brokers.empty())
    return "brokers: empty";
  if (group_prefix.empty())
    return "group_prefix: empty";
  if (buffer_max_messages == 0)
    return "buffer_max_messages: must be at least 1";
  if (max_in_flight == 0)
    return "max_in_flight: must be at least 1";
  if (fetch_wait <= 0ms || fetch_wait > 300s)
    return "fetch_wait: expected 1ms to 300s";
  if (linger < 0ms || linger > 900s)
    return "linger: expected 0 to 900s";
  if (delivery_timeout <= 0ms || retry_backoff <= 0ms || retry_backoff_max < retry_backoff)
    return "delivery_timeout / retry_backoff: must be positive, backoff max >= backoff";
  if (probe_interval <= 0ms || probe_timeout <= 0ms || lag_interval <= 0ms)
    return "probe_interval / probe_timeout / lag_interval: must be positive";
  if (flush_timeout < 0ms || shutdown_timeout <= 0ms)
    return "flush_timeout / shutdown_timeout: must be positive";
  return std::nullopt;
}

kafka_topics_config kafka_topics_config::from(const settings& s) {
  kafka_topics_config c;
  c.brokers = s.kafka.brokers;
  c.group_prefix = s.kafka.group_prefix;
  c.buffer_max_messages = s.kafka.buffer_max_messages;
  c.max_in_flight = s.kafka.max_in_flight;
  c.fetch_wait = s.kafka.fetch_wait;
  c.linger = s.kafka.linger;
  if (!s.node.name.empty())
    c.client_id = "flightwatch-" + s.node.name;
  // Within the supervisor's patience for one child: flush first, then whatever is left.
  c.shutdown_timeout = std::max(duration{100}, s.node.shutdown_timeout * 4 / 5);
  c.flush_timeout = c.shutdown_timeout / 2;
  return c;
}

std::string consumer_group(const kafka_topics_config& cfg, const std::string& topic,
                           const std::string& name) {
  if (name.empty())
    return cfg.group_prefix + "." + topic;
  return cfg.group_prefix + "." + name + "." + topic;
}

caf::actor spawn_kafka_topics_with(caf::actor_system& sys, const node_context_ptr& ctx,
                                   kafka_topics_config cfg) {
  return sys.spawn(kafka_topics, ctx, std::move(cfg));
}

caf::actor spawn_kafka_topics(caf::actor_system& sys, const node_context_ptr& ctx) {
  return spawn_kafka_topics_with(sys, ctx, kafka_topics_config::from(ctx->cfg));
}

caf::actor spawn_topics(caf::actor_system& sys, const node_context_ptr& ctx) {
  if (ctx->cfg.kafka.brokers.empty())
    return spawn_topic_broker(sys, ctx);
  return spawn_kafka_topics(sys, ctx);
}

} // namespace fw
