#include "actors/notifier/notifier.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "actors/common/subscription.hpp"
#include "actors/common/text.hpp"
#include "actors/common/topic_broker.hpp"
#include "actors/notifier/notification_text.hpp"
#include "actors/notifier/telegram_outbox.hpp"
#include "actors/notifier/telegram_sender.hpp"
#include "actors/notifier/update_poller.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "messages/json.hpp"
#include "messages/unix_time.hpp"
#include "persistence/db_call.hpp"
#include "persistence/worker_choice.hpp"

#include <caf/actor_system.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <algorithm>
#include <functional>
#include <map>

namespace fw {

namespace {

/// Telegram senders: calls to different chats proceed side by side.
constexpr unsigned sender_count = 4;
/// A sender's call takes at most telegram.timeout; past this margin it counts as failed.
constexpr auto sender_margin = std::chrono::seconds{5};
constexpr std::int64_t max_history = 500;

struct notifier_state {
  static constexpr const char* name = "notifier";
  node_context_ptr ctx;
  std::vector<telegram_sender_actor> senders;
  /// Calls given to each sender and not answered yet: the next goes to the least busy.
  std::vector<worker_load> sender_loads;
  size_t next_sender = 0;
  /// Messages waiting for their call (rate limits, 429s, backoff), one queue per chat.
  std::optional<telegram_outbox> outbox;
  /// When the one pending tick for the outbox's next call fires, if one is pending.
  std::optional<telegram_outbox::clock::time_point> tick_at;
  prometheus::Gauge* queued = nullptr;
  std::string bot_username; // from getMe, for deep links
  /// Notifications being delivered, by event id, with the callbacks of copies of the same
  /// event that arrived meanwhile (a redelivery while a slow send is still going): they
  /// get the first one's outcome instead of sending again.
  std::map<std::string, std::vector<std::function<void(caf::error)>>> in_flight;
  std::shared_ptr<std::atomic<bool>> stop_polling = std::make_shared<std::atomic<bool>>(false);
  prometheus::Family<prometheus::Counter>* sent = nullptr;

  bool telegram() const {
    return !ctx->cfg.telegram.bot_token.empty();
  }
  caf::actor storage() const {
    return ctx->directory->get("storage");
  }
  std::chrono::milliseconds store_timeout() const {
    return ctx->cfg.storage.timeout;
  }
  void count(const std::string& channel, const std::string& status) {
    auto labels = ctx->metrics->labels("notifier");
    labels.emplace("channel", channel);
    labels.emplace("status", status);
    sent->Add(labels).Increment();
  }
};

using notifier_impl =
  notifier_actor::extend<caf::reacts_to<subscribe_atom>, caf::reacts_to<caf::tick_atom>>;
using self_pointer = notifier_impl::stateful_pointer<notifier_state>;
/// Called once with nothing (done: acknowledge) or the error that keeps the event unacked.
using done_fn = std::function<void(caf::error)>;

/// Records the final status of a notification, counts it, and acknowledges.
void finish(self_pointer self, notification_store::record rec, std::string status,
            std::int64_t attempts, std::string error, done_fn done) {
  auto& st = self->state;
  db_call<bool>(
    self, st.storage(), "update_notification",
    [event_id = rec.event_id, status, attempts, error](store_session& s) {
      s.notifications().update(event_id, status, attempts, error, unix_ms());
      return true;
    },
    [self, rec, status, error, done](caf::expected<bool> stored) {
      if (!stored) {
        done(stored.error());
        return;
      }
      self->state.count(rec.channel, status);
      if (status != "sent")
        log::warn(notifier_state::name, "notification ", rec.event_id, " to ", rec.user_email,
                  " ", status, ": ", error);
      done({});
    },
    db_lane::bulk);
}

void pump_outbox(self_pointer self);

/// Makes one call on an idle sender (ties in turn), and gives its answer to the outbox.
void call_sender(self_pointer self, telegram_outbox::call call) {
  auto& st = self->state;
  const auto i = choose_worker(st.sender_loads, false, st.next_sender++);
  ++st.sender_loads[i].outstanding;
  auto answered = [self, i, chat_id = call.chat_id](const telegram_attempt& a) {
    auto& st = self->state;
    --st.sender_loads[i].outstanding;
    st.outbox->on_answer(chat_id, a, telegram_outbox::clock::now());
    pump_outbox(self);
  };
  self
    ->request(st.senders[i], st.ctx->cfg.telegram.timeout + sender_margin, send_atom::value,
              call.chat_id, std::move(call.html))
    .then([answered](telegram_attempt& a) { answered(a); },
          [answered](caf::error& err) {
            answered({"transient", 0, "no answer from the sender: " + message_of(err)});
          });
}

/// Makes the calls that are due, one per idle sender, and keeps one tick pending for the
/// next one. A sender gets no second call while one is in progress: a call queued in its
/// mailbox would use up its timeout there, and retrying it while it still waits to run
/// would send the message twice. Due calls beyond the idle senders wait in the outbox
/// for the next answer.
void pump_outbox(self_pointer self) {
  auto& st = self->state;
  const auto now = telegram_outbox::clock::now();
  const auto idle = static_cast<std::size_t>(
    std::count_if(st.sender_loads.begin(), st.sender_loads.end(),
                  [](const worker_load& w) { return w.outstanding == 0; }));
  for (auto& call : st.outbox->take_due(now, idle))
    call_sender(self, std::move(call));
  st.queued->Set(static_cast<double>(st.outbox->size()));
  auto next = st.outbox->next_due();
  if (next && *next <= now)
    next.reset(); // due, but every sender is busy: the next answer pumps again
  if (next && (!st.tick_at || *next < *st.tick_at)) {
    st.tick_at = *next;
    self->delayed_send(self, std::max(*next - now, telegram_outbox::clock::duration{}),
                       caf::tick_atom::value);
  }
}

/// Queues `html` for `chat_id`; `done` gets how the delivery ended.
void send_to_chat(self_pointer self, std::int64_t chat_id, std::string html,
                  telegram_outbox::done_fn done) {
  self->state.outbox->push(chat_id, std::move(html), std::move(done),
                           telegram_outbox::clock::now());
  pump_outbox(self);
}

/// Sends over Telegram to the user's chat; a chat that blocked the bot is marked inactive.
void send_telegram(self_pointer self, notification_store::record rec, std::string html,
                   std::int64_t chat_id, done_fn done) {
  send_to_chat(
      self, chat_id, std::move(html),
      [self, rec, chat_id, done](delivery_result r) {
        if (r.status != "blocked") {
          finish(self, rec, r.status, r.attempts, r.error, done);
          return;
        }
        db_call<bool>(
          self, self->state.storage(), "mark_chat_inactive",
          [chat_id](store_session& s) {
            s.users().mark_chat_inactive(chat_id);
            return true;
          },
          [self, rec, r, done](caf::expected<bool>) {
            finish(self, rec, "failed", r.attempts, "chat inactive: " + r.error, done);
          },
          db_lane::bulk);
      });
}

/// Looks up the user's chat, then delivers on the configured channel.
void deliver(self_pointer self, notification_store::record rec, notifier::text text,
             done_fn done) {
  auto& st = self->state;
  if (!st.telegram()) {
    log::info(notifier_state::name, "to ", rec.user_email, ": ", text.plain);
    finish(self, std::move(rec), "sent", 1, {}, std::move(done));
    return;
  }
  auto users = st.ctx->directory->get("user-manager");
  if (!users) {
    done(make_error(ec::unavailable, "role user-manager is not running"));
    return;
  }
  self->request(users, st.store_timeout() + std::chrono::seconds{1}, get_user_atom::value,
                rec.user_email)
    .then(
      [self, rec, text, done](user& u) {
        if (!u.telegram_chat_id) {
          finish(self, rec, "skipped", 0, "no active Telegram chat linked", done);
          return;
        }
        send_telegram(self, rec, text.html, *u.telegram_chat_id, done);
      },
      [self, rec, done](caf::error& err) {
        if (code_of(err) == ec::not_found && err.category() == ec_category)
          finish(self, rec, "skipped", 0, "no such user", done);
        else
          done(err);
      });
}

/// Notifies one recipient of one event, at most once per event id.
void notify(self_pointer self, notification_store::record rec, notifier::text text,
            done_fn done) {
  auto& st = self->state;
  auto [entry, first] = st.in_flight.try_emplace(rec.event_id);
  if (!first) {
    entry->second.push_back(std::move(done));
    return;
  }
  done = [self, event_id = rec.event_id, done = std::move(done)](caf::error err) {
    auto waiters = std::move(self->state.in_flight[event_id]);
    self->state.in_flight.erase(event_id);
    for (auto& w : waiters)
      w(err);
    done(std::move(err));
  };
  rec.channel = st.telegram() ? "telegram" : "console";
  rec.text = st.telegram() ? text.html : text.plain;
  rec.status = "pending";
  rec.created_at_ms = rec.updated_at_ms = unix_ms();
  db_call<std::optional<notification_store::record>>(
    self, st.storage(), "open_notification",
    [rec](store_session& s) { return s.notifications().open(rec); },
    [self, rec, text, done](caf::expected<std::optional<notification_store::record>> seen) {
      if (!seen) {
        done(seen.error());
        return;
      }
      if (*seen && (*seen)->status != "pending") {
        done({}); // notified before: a redelivery
        return;
      }
      deliver(self, rec, text, done);
    },
    db_lane::bulk);
}

/// Runs `steps` one after another, then answers the event.
void run_all(self_pointer self, std::shared_ptr<std::vector<std::function<void(done_fn)>>> steps,
             size_t i, caf::response_promise rp) {
  if (i == steps->size()) {
    rp.deliver(caf::unit);
    return;
  }
  (*steps)[i]([self, steps, i, rp](caf::error err) mutable {
    if (err)
      rp.deliver(std::move(err));
    else
      run_all(self, steps, i + 1, rp);
  });
}

caf::result<void> on_event(self_pointer self, const std::string& topic,
                           const std::string& payload) {
  auto steps = std::make_shared<std::vector<std::function<void(done_fn)>>>();
  try {
    auto j = nlohmann::json::parse(payload);
    if (topic == topic_sla_breach) {
      auto text = notifier::breach_text(j);
      // Breach events carry an event_id once produced by the watchdog; older payloads
      // are identified by their content.
      auto id = j.value("event_id", j.value("metric", std::string{}) + "@"
                                      + std::to_string(j.value("timestamp", 0.0)));
      for (const auto& admin : self->state.ctx->cfg.notifier.admins) {
        notification_store::record rec;
        rec.user_email = normalize_email(admin);
        rec.event_id = id + ":" + rec.user_email;
        rec.kind = "sla_breach";
        steps->push_back([self, rec, text](done_fn done) { notify(self, rec, text, done); });
      }
    } else {
      auto notice = j.get<alert_notice>();
      notification_store::record rec;
      rec.event_id = notice.event_id;
      rec.user_email = notice.user_email;
      rec.airport_code = notice.airport_code;
      rec.kind = notice.kind;
      auto text = notifier::alert_text(notice);
      steps->push_back([self, rec, text](done_fn done) { notify(self, rec, text, done); });
    }
  } catch (const std::exception& e) {
    log::error(notifier_state::name, "dropping a malformed ", topic, " event: ", e.what());
    return caf::unit;
  }
  caf::response_promise rp = self->make_response_promise();
  run_all(self, steps, 0, rp);
  return rp;
}

/// "/start <token>" from `chat_id`: links the chat to the token's user and says so there.
caf::result<void> link_chat(self_pointer self, const std::string& token, std::int64_t chat_id) {
  struct linked {
    std::string email;
    user_store::write_result result = user_store::write_result::not_found;
  };
  caf::response_promise rp = self->make_response_promise();
  auto& st = self->state;
  db_call<linked>(
    self, st.storage(), "link_telegram_chat",
    [token, chat_id](store_session& s) {
      const auto valid_after =
        unix_ms() - std::chrono::milliseconds{telegram_link_lifetime}.count();
      auto email = s.telegram_links().consume(token, valid_after);
      if (!email)
        return linked{};
      return linked{*email, s.users().set_telegram_chat_id(*email, chat_id)};
    },
    [self, rp, chat_id](caf::expected<linked> r) mutable {
      if (!r) {
        rp.deliver(r.error());
        return;
      }
      std::string answer;
      if (r->email.empty()) {
        answer = "This link is not valid: it works once, for one hour. Ask for a new one.";
      } else if (r->result == user_store::write_result::ok) {
        answer = "Linked: Flightwatch alerts for " + r->email + " will arrive in this chat.";
        log::info(notifier_state::name, "Telegram chat linked to ", r->email);
      } else if (r->result == user_store::write_result::chat_id_taken) {
        answer = "This chat is already linked to another Flightwatch account.";
      } else {
        answer = "This account no longer exists.";
      }
      send_to_chat(self, chat_id, html_escape(answer), [](delivery_result) {});
      rp.deliver(caf::unit);
    });
  return rp;
}

notification to_message(notification_store::record r) {
  return {std::move(r.event_id), std::move(r.user_email), std::move(r.airport_code),
          std::move(r.kind),     std::move(r.channel),    std::move(r.text),
          std::move(r.status),   std::move(r.error),      r.attempts,
          r.created_at_ms,       r.updated_at_ms};
}

notifier_impl::behavior_type notifier_role(self_pointer self, node_context_ptr ctx) {
  log_exceptions(self, notifier_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  auto& registry = st.ctx->metrics->registry();
  st.sent = &prometheus::BuildCounter()
               .Name("notifications_sent_total")
               .Help("Notifications by channel (telegram, console) and final status")
               .Register(registry);
  auto* api_duration =
    &prometheus::BuildHistogram()
       .Name("telegram_api_duration_seconds")
       .Help("Duration of Telegram sendMessage calls")
       .Register(registry)
       .Add(st.ctx->metrics->labels("notifier"),
            prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                                    10});
  st.queued = &prometheus::BuildGauge()
                 .Name("telegram_queued_messages")
                 .Help("Telegram messages not delivered yet: waiting for their rate-limit "
                       "slot, a 429's retry_after or a retry, or being sent")
                 .Register(registry)
                 .Add(st.ctx->metrics->labels("notifier"));
  if (st.telegram()) {
    const auto& tg = st.ctx->cfg.telegram;
    telegram_outbox::retry_policy policy;
    policy.max_attempts = tg.max_attempts;
    st.outbox.emplace(telegram_rate_limiter::limits::from(tg), policy);
    for (unsigned i = 0; i < sender_count; ++i) {
      st.senders.push_back(spawn_telegram_sender(self->system(), tg, api_duration));
      self->link_to(st.senders.back());
    }
    st.sender_loads.assign(st.senders.size(), worker_load{});
    auto poller = spawn_update_poller(self->system(), st.ctx, self, st.stop_polling);
    self->link_to(poller);
    // A poll in progress is abandoned as soon as the role stops.
    self->attach_functor([stop = st.stop_polling] { stop->store(true); });
  }
  const std::vector<std::string> topics{topic_to_notifier, topic_sla_breach};
  self->set_down_handler([self, topics](const caf::down_msg&) {
    keep_subscribed(self, self->state.ctx, topics, notifier_state::name);
  });
  keep_subscribed(self, st.ctx, topics, notifier_state::name);
  return {
    [self](ping_atom) { return self->state.ctx->make_pong(notifier_state::name); },
    [](health_atom) { return component_health{notifier_state::name, true, {}}; },
    [self](topic_event_atom, const std::string& topic, const std::string& payload) {
      return on_event(self, topic, payload);
    },
    [self](bot_name_atom) -> caf::result<std::string> {
      auto& st = self->state;
      if (!st.telegram())
        return make_error(ec::unavailable, "Telegram is not configured (telegram.bot_token)");
      if (st.bot_username.empty())
        return make_error(ec::unavailable, "the bot's name is not known yet (getMe)");
      return st.bot_username;
    },
    [self](bot_name_atom, std::string& name) { self->state.bot_username = std::move(name); },
    [self](link_chat_atom, const std::string& token, std::int64_t chat_id) {
      return link_chat(self, token, chat_id);
    },
    [self](caf::tick_atom) {
      auto& st = self->state;
      if (st.tick_at && *st.tick_at <= telegram_outbox::clock::now())
        st.tick_at.reset(); // else an older tick: the pending one is still to come
      if (st.outbox)
        pump_outbox(self);
    },
    [self, topics](subscribe_atom) {
      keep_subscribed(self, self->state.ctx, topics, notifier_state::name);
    },
    [self](list_notifications_atom, const std::string& email,
           std::int64_t limit) -> caf::result<std::vector<notification>> {
      if (limit < 1 || limit > max_history)
        return make_error(ec::invalid_argument,
                          "limit must be between 1 and " + std::to_string(max_history));
      auto rp = self->make_response_promise<std::vector<notification>>();
      db_call<std::vector<notification>>(
        self, self->state.storage(), "list_notifications",
        [email = normalize_email(email), limit](store_session& s) {
          std::vector<notification> out;
          for (auto& r : s.notifications().for_user(email, limit))
            out.push_back(to_message(std::move(r)));
          return out;
        },
        [rp](caf::expected<std::vector<notification>> list) mutable {
          if (list)
            rp.deliver(std::move(*list));
          else
            rp.deliver(list.error());
        });
      return rp;
    },
  };
}

} // namespace

caf::actor spawn_notifier(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(notifier_role, ctx));
}

} // namespace fw
