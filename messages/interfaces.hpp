#pragma once
// The whole protocol between the project's actors, one typed interface per role.
// A reader should learn from this file what every actor answers and with what.

#include "messages/type_ids.hpp"

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace fw {

/// What every role and node service answers; the other interfaces extend it.
using role_actor = caf::typed_actor<
  // Liveness: which role answered, on which node (GET <prefix>/ping).
  caf::replies_to<ping_atom>::with<pong>,
  // Readiness of this component and what it depends on (GET /health).
  caf::replies_to<health_atom>::with<component_health>>;

/// Storage service of a node: brings the schema up to date (retrying with backoff while
/// the database is down) and hands work to its pool of detached workers, each with its
/// own connection, so no blocking call runs on CAF's scheduler threads.
/// Internally it also takes caf::connect_atom (its own retry timer); see
/// persistence/storage_service.cpp.
using storage_actor = role_actor::extend<
  // Runs the task on a worker; error ec::unavailable while the database is down.
  caf::replies_to<db_task>::with<void>>;

/// One storage worker (detached, one connection). Health probes its connection.
using storage_worker_actor = role_actor::extend<caf::replies_to<db_task>::with<void>>;

/// user-manager role (prefix /user-manager): users, idempotency keys, Telegram link.
/// The std::string before each command is its Idempotency-Key ("" when none was sent).
using user_manager_actor = role_actor::extend<
  // POST /users: 201, or 400/409/422 as a command_reply (replayed for a completed key).
  caf::replies_to<create_user_atom, std::string, user>::with<command_reply>,
  // DELETE /users/<email>: 200 or 404, then asks data-collector to drop the interests.
  caf::replies_to<delete_user_atom, std::string, std::string>::with<command_reply>,
  // POST /users/telegram (email, chat id): 200, 404 unknown user, 409 id of another user.
  caf::replies_to<link_telegram_atom, std::string, std::string, std::int64_t>::with<
    command_reply>,
  // GET /users, ordered by email.
  caf::replies_to<list_users_atom>::with<std::vector<user>>,
  // GET /users/<email>; error ec::not_found when absent.
  caf::replies_to<get_user_atom, std::string>::with<user>,
  // The seed's CheckUserExists, for other roles.
  caf::replies_to<user_exists_atom, std::string>::with<bool>,
  // POST /users/<email>/telegram-link: a one-time deep link https://t.me/<bot>?start=<t>;
  // ec::not_found for an unknown user, ec::unavailable without Telegram.
  caf::replies_to<telegram_link_atom, std::string>::with<std::string>>;

/// data-collector role (prefix /data-collector): interests, flights, OpenSky collection.
using data_collector_actor = role_actor::extend<
  // POST /interests: adds the interest (or updates its thresholds) and fetches its
  // airport at once; ec::not_found for an unknown user, ec::invalid_argument for bad input.
  caf::replies_to<add_interest_atom, interest>::with<interest>,
  // PUT /interests: new thresholds; ec::not_found when there is no such interest.
  caf::replies_to<update_interest_atom, interest>::with<interest>,
  // DELETE /interests (email, airport); ec::not_found when there is no such interest.
  caf::replies_to<remove_interest_atom, std::string, std::string>::with<bool>,
  // GET /interests/<email>, ordered by airport.
  caf::replies_to<list_interests_atom, std::string>::with<std::vector<interest>>,
  // The seed's DeleteUserInterests (user-manager, when a user is deleted): how many went.
  caf::replies_to<delete_interests_atom, std::string>::with<std::uint64_t>,
  // GET /flights/<airport>, newest first (query, whether the client accepts gzip): the
  // response body, a JSON array of flights, gzip-encoded when accepted and worth it
  // (rendered and compressed once per kept answer rather than once per request).
  caf::replies_to<list_flights_atom, flight_query, bool>::with<json_body>,
  // GET /flights/average/<icao> (airport, type, days): the response body, a JSON
  // flight_average.
  caf::replies_to<average_flights_atom, std::string, std::string, std::int64_t>::with<
    std::string>,
  // GET /flights/last/<icao> (airport, type); ec::not_found when none is stored.
  caf::replies_to<last_flight_atom, std::string, std::string>::with<flight>,
  // From another instance: a new interest (airport, user e-mail) in an airport we own.
  caf::reacts_to<collect_atom, std::string, std::string>,
  // From a collector, here or on a peer: new flights to or from these airports were
  // stored, so answers kept for their flight queries are out of date.
  caf::reacts_to<flights_changed_atom, std::vector<std::string>>>;

/// The data-collector's collection loop (a child of the role). With several instances in
/// a cluster each collects only the airports it owns (actors/data_collector/sharding.hpp).
using collector_actor = caf::typed_actor<
  // Timer: collect every airport someone is interested in that this instance owns.
  caf::reacts_to<collect_atom>,
  // A new interest (airport, user e-mail), here or at the airport's owner: collect the
  // airport now, ahead of the queue, unless it was collected within the last interval;
  // then check just this interest against the stored flights.
  caf::reacts_to<collect_atom, std::string, std::string>,
  // The same, whoever owns the airport (asked by the owner's peers).
  caf::reacts_to<collect_atom, std::string, std::string, bool>,
  // Timer (every second): take over at once the airports this instance now owns.
  caf::reacts_to<rebalance_atom>>;

/// One OpenSky fetch worker of the collector (detached: libcurl blocks).
using opensky_fetcher_actor = caf::typed_actor<
  // Arrivals and departures of the airport in [begin, end] (unix seconds); an OpenSky
  // failure is an error, never an empty list.
  caf::replies_to<fetch_atom, std::string, std::int64_t, std::int64_t>::with<
    std::vector<flight>>>;

/// The node's topics (to-alert-system, to-notifier, sla_breach), in process. Payloads are
/// the JSON the seed's Kafka messages carry; the key orders events of one user.
using topic_broker_actor = role_actor::extend<
  // Publishes (topic, key, payload). In process: answers once every subscriber has it
  // queued; over Kafka: once the broker acknowledged it (delivery report).
  caf::replies_to<publish_atom, std::string, std::string, std::string>::with<void>,
  // Subscribes an actor to a topic. It receives requests (topic_event_atom, topic,
  // payload) and answers (void) once it has handled the event: over Kafka the offset is
  // committed only then (at-least-once; subscribers drop duplicates by event_id).
  caf::replies_to<subscribe_atom, std::string, caf::actor>::with<void>>;

/// alert-evaluator role: consumes to-alert-system, produces to-notifier.
using alert_evaluator_actor = role_actor::extend<
  // A to-alert-system event (topic, JSON traffic_event); answered once evaluated and any
  // notice is published, so the event is acknowledged only then.
  caf::replies_to<topic_event_atom, std::string, std::string>::with<void>>;

/// notifier role: consumes to-notifier and sla_breach, sends Telegram messages (or log
/// lines when no bot token is configured) and records every notification.
using notifier_actor = role_actor::extend<
  // A to-notifier or sla_breach event; answered once its notification is recorded as
  // sent, failed or skipped, so the event is acknowledged only then.
  caf::replies_to<topic_event_atom, std::string, std::string>::with<void>,
  // GET /notifier/notifications/<email> (email, limit): newest first.
  caf::replies_to<list_notifications_atom, std::string, std::int64_t>::with<
    std::vector<notification>>,
  // The bot's username (for deep links); ec::unavailable without a bot token.
  caf::replies_to<bot_name_atom>::with<std::string>,
  // From the update poller: the bot's username, as getMe reported it.
  caf::reacts_to<bot_name_atom, std::string>,
  // From the update poller: "/start <token>" arrived from this chat (token, chat id).
  caf::replies_to<link_chat_atom, std::string, std::int64_t>::with<void>>;

/// A Telegram sender of the notifier (detached: libcurl blocks). One sendMessage call per
/// request; the notifier keeps the rate limits and the retries.
using telegram_sender_actor = caf::typed_actor<
  // (chat id, HTML text) -> how the call went.
  caf::replies_to<send_atom, std::int64_t, std::string>::with<telegram_attempt>>;

/// sla-watchdog role (prefix /sla-detector): samples Prometheus every t_check, keeps the
/// last 10 samples per metric and produces sla_breach events (3 samples out of range).
using sla_watchdog_actor = role_actor::extend<
  // GET /sla/config: the document in the seed's shape, plus the scrape interval (JSON).
  caf::replies_to<sla_config_atom>::with<std::string>,
  // POST /sla/config (JSON body): 200 applied at once, 400 invalid (bad field, PromQL
  // Prometheus rejects, t_check below 5 x scrape interval), 503 Prometheus unreachable.
  caf::replies_to<update_sla_config_atom, std::string>::with<command_reply>,
  // GET /breach/stats: low/high breach counts per metric since start (JSON).
  caf::replies_to<breach_stats_atom>::with<std::string>>;

/// The watchdog's Prometheus prober (detached: libcurl blocks).
using prometheus_prober_actor = caf::typed_actor<
  // (Prometheus URL, PromQL queries) -> one answer per query, in order.
  caf::replies_to<sample_atom, std::string, std::vector<std::string>>::with<
    std::vector<prometheus_sample>>,
  // Prometheus URL -> its global scrape_interval in ms (15 s when its config sets none);
  // ec::unavailable when Prometheus does not answer.
  caf::replies_to<scrape_interval_atom, std::string>::with<std::int64_t>>;

/// The cluster service of a node ("cluster" in the role directory; with cluster.port set
/// it is published there for the peers). It keeps the directory's remote roles current.
using cluster_actor = role_actor::extend<
  // A peer introduces itself (on connecting, and again every heartbeat of the cluster:
  // its roles may have restarted); answered with this node's own info.
  caf::replies_to<hello_atom, node_info>::with<node_info>,
  // GET /cluster/status: the nodes, their roles, state and uptime (JSON).
  caf::replies_to<cluster_status_atom>::with<std::string>>;

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
