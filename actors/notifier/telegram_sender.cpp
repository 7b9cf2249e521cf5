#include "actors/notifier/telegram_sender.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/notifier/telegram_client.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace fw {

namespace {

struct sender_state {
  static constexpr const char* name = "telegram-sender";
  std::unique_ptr<telegram_client> client;
  prometheus::Histogram* api_duration = nullptr;
};

telegram_attempt send_once(sender_state& st, std::int64_t chat_id, const std::string& html) {
  auto r = st.client->send_message(chat_id, html);
  st.api_duration->Observe(std::chrono::duration<double>(r.elapsed).count());
  return {to_string(r.status), r.retry_after.count(), std::move(r.description)};
}

telegram_sender_actor::behavior_type
telegram_sender(telegram_sender_actor::stateful_pointer<sender_state> self,
                telegram_settings settings, prometheus::Histogram* api_duration) {
  log_exceptions(self, sender_state::name);
  auto& st = self->state;
  st.client = std::make_unique<telegram_client>(settings);
  st.api_duration = api_duration;
  return {
    [self](send_atom, std::int64_t chat_id, const std::string& html) {
      return send_once(self->state, chat_id, html);
    },
  };
}

} // namespace

telegram_sender_actor spawn_telegram_sender(caf::actor_system& sys,
                                            const telegram_settings& settings,
                                            prometheus::Histogram* api_duration) {
  return sys.spawn<caf::detached>(telegram_sender, settings, api_duration);
}

} // namespace fw
