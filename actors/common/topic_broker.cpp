#include "actors/common/topic_broker.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <prometheus/counter.h>

#include <algorithm>
#include <map>
#include <vector>

namespace fw {

namespace {

struct broker_state {
  static constexpr const char* name = "topics";
  node_context_ptr ctx;
  std::map<std::string, std::vector<caf::actor>> subscribers;
  prometheus::Family<prometheus::Counter>* published = nullptr;
  std::map<std::string, prometheus::Counter*> published_by_topic;

  prometheus::Counter& published_counter(const std::string& topic) {
    auto& c = published_by_topic[topic];
    if (!c) {
      auto labels = ctx->metrics->labels("topics");
      labels.emplace("topic", topic);
      c = &published->Add(labels);
    }
    return *c;
  }
};

topic_broker_actor::behavior_type
topic_broker(topic_broker_actor::stateful_pointer<broker_state> self, node_context_ptr ctx) {
  log_exceptions(self, broker_state::name);
  self->state.ctx = std::move(ctx);
  self->state.published = &prometheus::BuildCounter()
                             .Name("flightwatch_topic_events_total")
                             .Help("Events published, by topic")
                             .Register(self->state.ctx->metrics->registry());
  self->set_down_handler([self](const caf::down_msg& down) {
    for (auto& [topic, subs] : self->state.subscribers)
      subs.erase(std::remove_if(subs.begin(), subs.end(),
                                [&](const caf::actor& a) { return a.address() == down.source; }),
                 subs.end());
  });
  return {
    [self](ping_atom) { return self->state.ctx->make_pong(broker_state::name); },
    [](health_atom) { return component_health{broker_state::name, true, {}}; },
    [self](publish_atom, const std::string& topic, const std::string&,
           const std::string& payload) {
      auto& st = self->state;
      st.published_counter(topic).Increment();
      auto i = st.subscribers.find(topic);
      if (i == st.subscribers.end())
        return;
      // In process an event lives only in mailboxes: the subscriber's answer is not
      // waited for, only a failure is logged.
      for (const auto& sub : i->second)
        self->request(sub, caf::infinite, topic_event_atom::value, topic, payload)
          .then([] {},
                [topic](caf::error& err) {
                  log::warn("topics", "a subscriber of ", topic, " failed an event: ",
                            message_of(err));
                });
    },
    [self](subscribe_atom, const std::string& topic, const caf::actor& subscriber) {
      auto& subs = self->state.subscribers[topic];
      if (std::find(subs.begin(), subs.end(), subscriber) != subs.end())
        return;
      self->monitor(subscriber);
      subs.push_back(subscriber);
    },
  };
}

} // namespace

caf::actor spawn_topic_broker(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(topic_broker, ctx));
}

} // namespace fw
