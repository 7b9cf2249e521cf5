#pragma once
// The alert-evaluator role (the seed's alert-system): consumes to-alert-system, keeps a
// state per (user, airport) in the database (firing or not), and publishes a notice on
// to-notifier when a condition starts, repeats after alerts.repeat_interval, or
// resolves. Each event is processed once: a redelivered one re-publishes the notice it
// produced the first time, with the same event_id.

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

caf::actor spawn_alert_evaluator(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
