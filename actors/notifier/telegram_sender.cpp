#include "actors/notifier/telegram_sender.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <thread>

namespace fw {

namespace {

/// A 429 asking for longer than this is treated as a failure (the event is retried later
/// through the topic instead of holding a sender for minutes).
constexpr auto longest_wait = std::chrono::seconds{60};

struct sender_state {
  static constexpr const char* name = "telegram-sender";
  node_context_ptr ctx;
  std::unique_ptr<telegram_client> client;
  std::shared_ptr<telegram_rate_limiter> limiter;
  prometheus::Histogram* api_duration = nullptr;
};

delivery_result deliver(sender_state& st, std::int64_t chat_id, const std::string& html) {
  using clock = telegram_rate_limiter::clock;
  const auto max_attempts = std::max(1u, st.ctx->cfg.telegram.max_attempts);
  auto backoff = std::chrono::milliseconds{500};
  std::int64_t attempts = 0;
  unsigned waits = 0; // 429s waited out; bounded too, so flood control cannot loop forever
  std::string last_error;
  while (attempts < max_attempts) {
    std::this_thread::sleep_until(st.limiter->reserve(chat_id, clock::now()));
    ++attempts;
    auto r = st.client->send_message(chat_id, html);
    st.api_duration->Observe(std::chrono::duration<double>(r.elapsed).count());
    switch (r.status) {
      case telegram_status::ok:
        return {"sent", attempts, {}};
      case telegram_status::blocked:
        return {"blocked", attempts, r.description};
      case telegram_status::rejected:
        return {"failed", attempts, r.description};
      case telegram_status::retry_after: {
        if (r.retry_after > longest_wait || ++waits > max_attempts)
          return {"failed", attempts,
                  "Telegram asked to wait " + std::to_string(r.retry_after.count()) + " s"};
        st.limiter->hold(chat_id, clock::now() + r.retry_after);
        --attempts; // waiting as asked is not a failed attempt
        last_error = r.description;
        continue;
      }
      case telegram_status::transient:
        last_error = r.description;
        if (attempts < max_attempts) {
          std::this_thread::sleep_for(backoff);
          backoff = std::min(backoff * 2, std::chrono::milliseconds{30'000});
        }
        continue;
    }
  }
  return {"failed", attempts, last_error};
}

telegram_sender_actor::behavior_type
telegram_sender(telegram_sender_actor::stateful_pointer<sender_state> self, node_context_ptr ctx,
                std::shared_ptr<telegram_rate_limiter> limiter,
                prometheus::Histogram* api_duration) {
  log_exceptions(self, sender_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.client = std::make_unique<telegram_client>(st.ctx->cfg.telegram);
  st.limiter = std::move(limiter);
  st.api_duration = api_duration;
  return {
    [self](send_atom, std::int64_t chat_id, const std::string& html) {
      return deliver(self->state, chat_id, html);
    },
  };
}

} // namespace

telegram_sender_actor spawn_telegram_sender(caf::actor_system& sys, const node_context_ptr& ctx,
                                            std::shared_ptr<telegram_rate_limiter> limiter,
                                            prometheus::Histogram* api_duration) {
  return sys.spawn<caf::detached>(telegram_sender, ctx, std::move(limiter), api_duration);
}

} // namespace fw
