#pragma once
// A Telegram sender: a detached actor with its own connection that delivers one message
// at a time. It takes a send slot from the shared rate limiter (about 1/s per chat, 30/s
// overall), waits out 429 (retry_after), retries 5xx and timeouts with exponential
// backoff (0.5 s doubling, at most 30 s apart) up to telegram.max_attempts, and reports
// 403 as "blocked". Waits block only this actor's own thread.

#include "actors/common/node_context.hpp"
#include "actors/notifier/telegram_client.hpp"
#include "messages/interfaces.hpp"

#include <prometheus/histogram.h>

#include <memory>

namespace fw {

telegram_sender_actor spawn_telegram_sender(caf::actor_system& sys, const node_context_ptr& ctx,
                                            std::shared_ptr<telegram_rate_limiter> limiter,
                                            prometheus::Histogram* api_duration);

} // namespace fw
