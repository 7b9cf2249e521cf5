#include "actors/alert_evaluator/alert_evaluator.hpp"

#include "actors/alert_evaluator/evaluation.hpp"
#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "actors/common/subscription.hpp"
#include "actors/common/topic_broker.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "messages/json.hpp"
#include "persistence/db_call.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>

namespace fw {

namespace {

/// Processed event ids are remembered this long (redeliveries come much sooner).
constexpr auto processed_retention = std::chrono::hours{24 * 7};

struct evaluator_state {
  static constexpr const char* name = "alert-evaluator";
  node_context_ptr ctx;
  prometheus::Counter* evaluated = nullptr;
  prometheus::Family<prometheus::Counter>* fired = nullptr;

  caf::actor storage() const {
    return ctx->directory->get("storage");
  }
};

using evaluator_impl =
  alert_evaluator_actor::extend<caf::reacts_to<subscribe_atom>, caf::reacts_to<purge_atom>>;
using self_pointer = evaluator_impl::stateful_pointer<evaluator_state>;

std::int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// Evaluates the event once (in one db_task: check, evaluate, record) and yields the
/// notice to publish as JSON ("" for none) — the stored one for a redelivered event.
std::string evaluate_once(store_session& s, const traffic_event& ev,
                          std::chrono::milliseconds repeat_interval) {
  auto& alerts = s.alerts();
  if (auto done = alerts.processed(ev.event_id))
    return *done;
  const auto now = unix_ms();
  auto out = alert_evaluator::evaluate(ev, alerts.find(ev.user_email, ev.airport_code), now,
                                       repeat_interval);
  std::string output = out.notice ? nlohmann::json(*out.notice).dump() : std::string{};
  if (!alerts.record(ev.event_id, ev.user_email, ev.airport_code, out.next, output, now))
    return alerts.processed(ev.event_id).value_or(std::string{});
  return output;
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
  auto& st = self->state;
  const auto repeat = st.ctx->cfg.alerts.repeat_interval;
  db_call<std::string>(
    self, st.storage(), st.ctx->cfg.storage.timeout, "evaluate_alert",
    [ev, repeat](store_session& s) { return evaluate_once(s, ev, repeat); },
    [self, rp, ev](caf::expected<std::string> notice) mutable {
      auto& st = self->state;
      if (!notice) {
        log::warn(evaluator_state::name, "event ", ev.event_id, " not evaluated: ",
                  message_of(notice.error()));
        rp.deliver(notice.error());
        return;
      }
      st.evaluated->Increment();
      if (notice->empty()) {
        rp.deliver(caf::unit);
        return;
      }
      auto kind = nlohmann::json::parse(*notice).value("kind", std::string{});
      auto topics = caf::actor_cast<topic_broker_actor>(st.ctx->directory->get("topics"));
      if (!topics) {
        rp.deliver(make_error(ec::unavailable, "topics are not running"));
        return;
      }
      self->request(topics, st.ctx->cfg.storage.timeout, publish_atom::value,
                    std::string{topic_to_notifier}, ev.user_email, *notice)
        .then(
          [self, rp, kind]() mutable {
            auto labels = self->state.ctx->metrics->labels("alert_evaluator");
            labels.emplace("kind", kind);
            self->state.fired->Add(labels).Increment();
            rp.deliver(caf::unit);
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    });
  return rp;
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
        self, st.storage(), st.ctx->cfg.storage.timeout, "purge_processed_events",
        [](store_session& s) {
          return s.alerts().purge_processed(
            unix_ms() - std::chrono::milliseconds{processed_retention}.count());
        },
        [self](caf::expected<std::uint64_t>) { schedule_purge(self); });
    },
  };
}

} // namespace

caf::actor spawn_alert_evaluator(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(alert_evaluator_role, ctx));
}

} // namespace fw
