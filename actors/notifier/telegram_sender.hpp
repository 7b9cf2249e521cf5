#pragma once
// A Telegram sender: a detached actor with its own connection that makes one sendMessage
// call per request and answers how it went (classified, never thrown). It neither waits
// nor retries: the notifier's outbox keeps the rate limits, the 429 waits and the backoff
// as times, so a sender's thread is busy only during a call.

#include "config/settings.hpp"
#include "messages/interfaces.hpp"

#include <prometheus/histogram.h>

namespace fw {

telegram_sender_actor spawn_telegram_sender(caf::actor_system& sys,
                                            const telegram_settings& settings,
                                            prometheus::Histogram* api_duration);

} // namespace fw
