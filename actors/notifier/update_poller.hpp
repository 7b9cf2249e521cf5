#pragma once
// Long-polls Telegram's getUpdates (telegram.poll_timeout) on its own thread and hands
// every "/start <token>" to the notifier, which links that chat to the token's user. It
// also asks getMe once so the notifier knows the bot's username for deep links. A shared
// flag, set when the notifier stops, abandons a poll in progress within about a second.

#include "actors/common/node_context.hpp"
#include "messages/interfaces.hpp"

#include <atomic>
#include <memory>

namespace fw {

using telegram_poller_actor = caf::typed_actor<caf::reacts_to<poll_atom>>;

telegram_poller_actor spawn_update_poller(caf::actor_system& sys, const node_context_ptr& ctx,
                                          notifier_actor notifier,
                                          std::shared_ptr<const std::atomic<bool>> stop);

} // namespace fw
