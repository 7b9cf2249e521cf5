#pragma once
// The whole protocol between the project's actors, one typed interface per role.
// A reader should learn from this file what every actor answers and with what.

#include "messages/type_ids.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace fw {

/// What every role and node service answers; the other interfaces extend it.
using role_actor = caf::typed_actor<
  // Liveness: which role answered, on which node (GET <prefix>/ping).
  caf::replies_to<ping_atom>::with<pong>,
  // Readiness of this component and what it depends on (GET /health).
  caf::replies_to<health_atom>::with<component_health>>;

/// Storage service of a node: owns the connection(s) to SQLite or PostgreSQL.
/// Internally it also takes caf::connect_atom (its own retry timer after a failed
/// connection); see persistence/storage_service.cpp.
using storage_actor = role_actor;

/// user-manager role (prefix /user-manager): users, idempotency keys, Telegram link.
using user_manager_actor = role_actor;

/// data-collector role (prefix /data-collector): interests, flights, OpenSky collection.
using data_collector_actor = role_actor;

/// alert-evaluator role: consumes to-alert-system, produces to-notifier.
using alert_evaluator_actor = role_actor;

/// notifier role: consumes to-notifier and sla_breach, sends Telegram messages.
using notifier_actor = role_actor;

/// sla-watchdog role (prefix /sla-detector): samples Prometheus, produces sla_breach.
using sla_watchdog_actor = role_actor;

/// gateway role: owns the HTTP server; answers ping/health like every role.
using gateway_actor = role_actor;

/// Node supervisor: spawns, monitors and restarts the roles of this node.
/// (Untyped on purpose: it receives down/exit messages and its own timers.)
///   shutdown_atom                -> ordered, graceful stop of every child, then quit
///   restart_atom, std::string    -> (internal timer) respawn the named child
///
/// HTTP bridge (gateway): untyped event_based_actor that runs bridge_task closures
/// so I/O threads can make asynchronous requests.
///   bridge_task                  -> runs task.run(self)

} // namespace fw
