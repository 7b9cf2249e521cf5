#pragma once
// The notifier role (the seed's alert-notifier-system): consumes to-notifier (alert
// notices for a user) and sla_breach (for the admins in notifier.admins), looks up the
// user's chat through the user-manager, sends through Telegram — or, with no bot token
// configured, writes the notification to the log (console channel) — and records every
// notification with its outcome. An event is notified once: a redelivered event whose
// notification is recorded as done is only acknowledged.

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

caf::actor spawn_notifier(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
