#include "actors/alert_evaluator/alert_evaluator.hpp"

#include "actors/alert_evaluator/evaluation.hpp"
#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "actors/common/subscription.hpp"
#include "actors/common/topic_broker.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "messages/json.hpp"
#include "messages/unix_time.hpp"
#include "persistence/db_call.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>

#include <deque>
#include <map>

namespace fw {

namespace {

/// Processed event ids are remembered this long (redeliveries come much sooner).
constexpr auto processed_retention = std::chrono::hours{24 * 7};

struct evaluator_state {
  static constexpr const char* name = "alert-evaluator";
  node_context_ptr ctx;
  /// Events waiting for an earlier event of the same (user, airport) to finish: the
  /// state read, decision and record of one key must not interleave (two events read
  /// "nothing firing" and both fire).
  std::map<std::string, std::deque<std::pair<traffic_event, caf::response_promise>>> busy;
  prometheus::Counter* evaluated = nullptr;
  prometheus::Family<prometheus::Counter>* fired = nullptr;

  caf::actor storage() const {
    return ctx->directory->get("storage");
  }
};

using evaluator_impl =
  alert_evaluator_actor::extend<caf::reacts_to<subscribe_atom>, caf::reacts_to<purge_atom>>;
using self_pointer = evaluator_impl::stateful_pointer<evaluator_state>;

/// Evaluates the event once (in one db_task: read the state, evaluate, record) and
/// yields the notice to publish as JSON ("" for none) — the stored one for a redelivered
/// event. Whether the event was processed before is learnt from record(), which then
/// writes nothing: a new event (the common case) costs no separate look-up.
std::string evaluate_once(store_session& s, const traffic_event& ev,
                          std::chrono::milliseconds repeat_interval) {
  auto& alerts = s.alerts();
  const auto now = unix_ms();
  auto out = alert_evaluator::evaluate(ev, alerts.find(ev.user_email, ev.airport_code), now,
                                       repeat_interval);
  std::string output = out.notice ? nlohmann::json(*out.notice).dump() : std::string{};
  if (!alerts.record(ev.event_id, ev.user_email, ev.airport_code, out.next, output, now))
    return alerts.processed(ev.event_id).value_or(std::string{});
  return output;
}

void evaluate(self_pointer self, traffic_event ev, caf::response_promise rp);

/// The event of this key is done: start the next one waiting for the key, if any.
void next_of_key(self_pointer self, const std::string& key) {
  auto& busy = self->state.busy;
  auto i = busy.find(key);
  if (i == busy.end())
    return;
  if (i->second.empty()) {
    busy.erase(i);
    return;
  }
  auto [ev, rp] = std::move(i->second.front());
  i->second.pop_front();
  evaluate(self, std::move(ev), std::move(rp));
}

std::string key_of(const traffic_event& ev) {
  return ev.user_email + '\n' + ev.airport_code;
}

caf::result<void> on_event(self_pointer self, const std::string& payload) {
  traffic_event ev;
  try {
    nlohmann::json::parse(payload).get_to(ev);
  } catch (const std::exception& e) {
    // A malformed event can never succeed: acknowledge it so it does not block the topic.
    log::error(evaluator_state::name, "dropping a malformed to-alert-system event: ", e.what());
    return caf::unit;
  }
  caf::response_promise rp = self->make_response_promise();
  auto [i, first] = self->state.busy.try_emplace(key_of(ev));
  if (first)
    evaluate(self, std::move(ev), rp);
  else
    i->second.emplace_back(std::move(ev), rp);
  return rp;
}

void evaluate(self_pointer self, traffic_event ev, caf::response_promise rp_in) {
  auto& st = self->state;
  // Whatever happens, the next event of this key runs after this one is answered.
  auto key = key_of(ev);
  auto rp = std::make_shared<caf::response_promise>(std::move(rp_in));
  auto answer = [self, key, rp](caf::error err) {
    if (err)
      rp->deliver(std::move(err));
    else
      rp->deliver(caf::unit);
    next_of_key(self, key);
  };
  const auto repeat = st.ctx->cfg.alerts.repeat_interval;
  db_call<std::string>(
    self, st.storage(), "evaluate_alert",
    [ev, repeat](store_session& s) { return evaluate_once(s, ev, repeat); },
    [self, answer, ev](caf::expected<std::string> notice) {
      auto& st = self->state;
      if (!notice) {
        log::warn(evaluator_state::name, "event ", ev.event_id, " not evaluated: ",
                  message_of(notice.error()));
        answer(notice.error());
        return;
      }
      st.evaluated->Increment();
      if (notice->empty()) {
        answer({});
        return;
      }
      auto kind = nlohmann::json::parse(*notice).value("kind", std::string{});
      auto topics = caf::actor_cast<topic_broker_actor>(st.ctx->directory->get("topics"));
      if (!topics) {
        answer(make_error(ec::unavailable, "topics are not running"));
        return;
      }
      self->request(topics, st.ctx->cfg.storage.timeout, publish_atom::value,
                    std::string{topic_to_notifier}, ev.user_email, *notice)
        .then(
          [self, answer, kind]() {
            auto labels = self->state.ctx->metrics->labels("alert_evaluator");
            labels.emplace("kind", kind);
            self->state.fired->Add(labels).Increment();
            answer({});
          },
          [answer](caf::error& err) { answer(std::move(err)); });
    },
    db_lane::bulk);
}

void schedule_purge(self_pointer self) {
  self->delayed_send(self, std::chrono::hours{1}, purge_atom::value);
}

evaluator_impl::behavior_type alert_evaluator_role(self_pointer self, node_context_ptr ctx) {
  log_exceptions(self, evaluator_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  auto& registry = st.ctx->metrics->registry();
  st.evaluated = &prometheus::BuildCounter()
                    .Name("alerts_evaluated_total")
                    .Help("to-alert-system events evaluated")
                    .Register(registry)
                    .Add(st.ctx->metrics->labels("alert_evaluator"));
  st.fired = &prometheus::BuildCounter()
                .Name("alerts_fired_total")
                .Help("Notices published on to-notifier, by kind (firing, repeat, resolved)")
                .Register(registry);
  self->set_down_handler([self](const caf::down_msg&) {
    // The topics service restarted: subscribe again.
    keep_subscribed(self, self->state.ctx, {topic_to_alert_system}, evaluator_state::name);
  });
  keep_subscribed(self, st.ctx, {topic_to_alert_system}, evaluator_state::name);
  schedule_purge(self);
  return {
    [self](ping_atom) { return self->state.ctx->make_pong(evaluator_state::name); },
    [](health_atom) { return component_health{evaluator_state::name, true, {}}; },
    [self](topic_event_atom, const std::string&, const std::string& payload) {
      return on_event(self, payload);
    },
    [self](subscribe_atom) {
      keep_subscribed(self, self->state.ctx, {topic_to_alert_system}, evaluator_state::name);
    },
    [self](purge_atom) {
      auto& st = self->state;
      db_call<std::uint64_t>(
        self, st.storage(), "purge_processed_events",
        [](store_session& s) {
          return s.alerts().purge_processed(
            unix_ms() - std::chrono::milliseconds{processed_retention}.count());
        },
        [self](caf::expected<std::uint64_t>) { schedule_purge(self); }, db_lane::bulk);
    },
  };
}

} // namespace

caf::actor spawn_alert_evaluator(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(alert_evaluator_role, ctx));
}

} // namespace fw
