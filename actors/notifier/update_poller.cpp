#include "actors/notifier/update_poller.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "actors/notifier/telegram_client.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace fw {

namespace {

struct poller_state {
  static constexpr const char* name = "telegram-poller";
  node_context_ptr ctx;
  notifier_actor notifier;
  std::shared_ptr<const std::atomic<bool>> stop;
  std::unique_ptr<telegram_client> client;
  std::int64_t offset = 0;
  bool know_bot = false;
  std::chrono::milliseconds backoff{500};
};

using poller_pointer = telegram_poller_actor::stateful_pointer<poller_state>;

/// After a failed call: poll again later (a message, so exits are seen meanwhile).
void retry_later(poller_pointer self, const std::string& why) {
  auto& st = self->state;
  log::warn(poller_state::name, why, "; retrying in ", st.backoff.count(), " ms");
  self->delayed_send(self, st.backoff, poll_atom::value);
  st.backoff = std::min(st.backoff * 2, std::chrono::milliseconds{30'000});
}

void poll_once(poller_pointer self) {
  auto& st = self->state;
  if (st.stop->load())
    return;
  if (!st.know_bot) {
    auto me = st.client->get_me();
    if (!me.ok())
      return retry_later(self, "getMe failed: " + me.description);
    st.know_bot = true;
    self->send(st.notifier, bot_name_atom::value, me.username);
  }
  auto poll = std::chrono::duration_cast<std::chrono::seconds>(st.ctx->cfg.telegram.poll_timeout);
  auto r = st.client->get_updates(st.offset, poll);
  if (st.stop->load())
    return;
  if (!r.ok())
    return retry_later(self, "getUpdates failed: " + r.description);
  st.backoff = std::chrono::milliseconds{500};
  st.offset = r.next_offset;
  for (const auto& u : r.updates) {
    if (!u.has_message)
      continue;
    auto payload = start_payload(u.text);
    if (payload && valid_start_payload(*payload))
      self->request(st.notifier, std::chrono::seconds{30}, link_chat_atom::value, *payload,
                    u.chat_id)
        .then([] {}, [](caf::error&) { /* the notifier logs it */ });
  }
  self->send(self, poll_atom::value);
}

telegram_poller_actor::behavior_type update_poller(poller_pointer self, node_context_ptr ctx,
                                                   notifier_actor notifier,
                                                   std::shared_ptr<const std::atomic<bool>> stop) {
  log_exceptions(self, poller_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.notifier = std::move(notifier);
  st.stop = std::move(stop);
  st.client = std::make_unique<telegram_client>(st.ctx->cfg.telegram);
  st.client->set_cancel_flag(st.stop);
  self->send(self, poll_atom::value);
  return {
    [self](poll_atom) { poll_once(self); },
  };
}

} // namespace

telegram_poller_actor spawn_update_poller(caf::actor_system& sys, const node_context_ptr& ctx,
                                          notifier_actor notifier,
                                          std::shared_ptr<const std::atomic<bool>> stop) {
  return sys.spawn<caf::detached>(update_poller, ctx, std::move(notifier), std::move(stop));
}

} // namespace fw
