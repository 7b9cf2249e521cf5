#pragma once
// The structs that travel between actors (and, later, between nodes and over Kafka).
// Each has a CAF inspect() for the wire and a JSON mapping in json.hpp.

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace caf {
class event_based_actor;
} // namespace caf

namespace fw {

class store_session;

/// Answer to a ping: which role answered, on which node.
struct pong {
  std::string service;
  std::string node;
  friend bool operator==(const pong&, const pong&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pong& x) {
  return f(caf::meta::type_name("fw.pong"), x.service, x.node);
}

/// Readiness of one role or service (storage included) as /health reports it.
struct component_health {
  std::string component; // role or service name, e.g. "user-manager", "storage"
  bool ready = false;
  std::string detail;    // human-readable reason when not ready; never holds secrets
  friend bool operator==(const component_health&, const component_health&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, component_health& x) {
  return f(caf::meta::type_name("fw.component_health"), x.component, x.ready, x.detail);
}

/// A closure run inside a bridge actor so a non-actor thread (an HTTP I/O thread) can
/// make asynchronous requests without blocking. Local only: it never crosses a node.
struct bridge_task {
  std::function<void(caf::event_based_actor*)> run;
};

/// A registered user (the seed's users table). Empty tax_code / iban mean "not given".
struct user {
  std::string email;      // normalised: trimmed, lower case
  std::string first_name;
  std::string last_name;
  std::string tax_code;
  std::string iban;       // normalised: no spaces, upper case; never logged
  caf::optional<std::int64_t> telegram_chat_id;
  friend bool operator==(const user&, const user&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user& x) {
  return f(caf::meta::type_name("fw.user"), x.email, x.first_name, x.last_name, x.tax_code,
           x.iban, x.telegram_chat_id);
}

/// The outcome of a state-changing request that idempotency keys protect: an HTTP status
/// and JSON body, exactly what a replay of the same key answers later.
struct command_reply {
  std::uint16_t status = 0;
  std::string body;      // JSON text
  bool replayed = false; // true when answered from a completed idempotency key
  friend bool operator==(const command_reply&, const command_reply&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, command_reply& x) {
  return f(caf::meta::type_name("fw.command_reply"), x.status, x.body, x.replayed);
}

/// One flight as OpenSky's /flights/arrival and /flights/departure report it (the seed's
/// flight_data columns). Times are unix seconds; empty strings and absent optionals are
/// what OpenSky left unknown.
struct flight {
  std::string icao24;
  std::int64_t first_seen = 0;
  std::string est_departure_airport;
  std::int64_t last_seen = 0;
  std::string est_arrival_airport;
  std::string callsign; // trimmed
  caf::optional<std::int64_t> est_departure_airport_horiz_distance;
  caf::optional<std::int64_t> est_departure_airport_vert_distance;
  caf::optional<std::int64_t> est_arrival_airport_horiz_distance;
  caf::optional<std::int64_t> est_arrival_airport_vert_distance;
  caf::optional<std::int64_t> departure_airport_candidates_count;
  caf::optional<std::int64_t> arrival_airport_candidates_count;
  friend bool operator==(const flight&, const flight&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, flight& x) {
  return f(caf::meta::type_name("fw.flight"), x.icao24, x.first_seen, x.est_departure_airport,
           x.last_seen, x.est_arrival_airport, x.callsign, x.est_departure_airport_horiz_distance,
           x.est_departure_airport_vert_distance, x.est_arrival_airport_horiz_distance,
           x.est_arrival_airport_vert_distance, x.departure_airport_candidates_count,
           x.arrival_airport_candidates_count);
}

/// A user's interest in an airport, with optional thresholds on its traffic (seed 002).
struct interest {
  std::string user_email;
  std::string airport_code; // ICAO, upper case
  caf::optional<std::int64_t> high_value;
  caf::optional<std::int64_t> low_value;
  friend bool operator==(const interest&, const interest&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, interest& x) {
  return f(caf::meta::type_name("fw.interest"), x.user_email, x.airport_code, x.high_value,
           x.low_value);
}

/// GET /flights/<airport>: which flights, newest first.
struct flight_query {
  std::string airport_code;
  std::string type;                 // "arrivals", "departures" or "" (both)
  std::int64_t limit = 100;
  caf::optional<std::int64_t> since; // unix seconds, inclusive
  caf::optional<std::int64_t> until; // unix seconds, inclusive
  friend bool operator==(const flight_query&, const flight_query&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, flight_query& x) {
  return f(caf::meta::type_name("fw.flight_query"), x.airport_code, x.type, x.limit, x.since,
           x.until);
}

/// A JSON response body as a role rendered it: the text itself, or (`gzip`) its gzip
/// encoding, for a request that accepts gzip, to be sent with Content-Encoding: gzip.
struct json_body {
  std::string content;
  bool gzip = false;
  friend bool operator==(const json_body&, const json_body&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, json_body& x) {
  return f(caf::meta::type_name("fw.json_body"), x.content, x.gzip);
}

/// GET /flights/average/<icao>: mean flights per day over the last `days` days.
struct flight_average {
  std::string airport_code;
  std::string type;
  std::int64_t days = 0;
  std::int64_t flights = 0;
  double average_per_day = 0;
  friend bool operator==(const flight_average&, const flight_average&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, flight_average& x) {
  return f(caf::meta::type_name("fw.flight_average"), x.airport_code, x.type, x.days, x.flights,
           x.average_per_day);
}

/// Topic to-alert-system: one per interest after each collection of its airport, with
/// the number of flights stored for the window.
struct traffic_event {
  std::string event_id;
  std::string user_email;
  std::string airport_code;
  std::int64_t flight_count = 0;
  caf::optional<std::int64_t> high_value;
  caf::optional<std::int64_t> low_value;
  std::int64_t window_start = 0; // unix seconds
  std::int64_t window_end = 0;
  friend bool operator==(const traffic_event&, const traffic_event&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, traffic_event& x) {
  return f(caf::meta::type_name("fw.traffic_event"), x.event_id, x.user_email, x.airport_code,
           x.flight_count, x.high_value, x.low_value, x.window_start, x.window_end);
}

/// Topic to-notifier: one notification the alert-evaluator asks for. `kind` is "firing"
/// (a condition starts), "repeat" (still firing after alerts.repeat_interval) or
/// "resolved" (back to normal); `condition` is the seed's sentence.
struct alert_notice {
  std::string event_id;
  std::string user_email;
  std::string airport_code;
  std::string kind;
  std::string condition;
  std::int64_t flight_count = 0;
  std::int64_t threshold = 0;
  std::int64_t created_at_ms = 0;
  friend bool operator==(const alert_notice&, const alert_notice&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alert_notice& x) {
  return f(caf::meta::type_name("fw.alert_notice"), x.event_id, x.user_email, x.airport_code,
           x.kind, x.condition, x.flight_count, x.threshold, x.created_at_ms);
}

/// One sendMessage call, as a Telegram sender answers it: status "ok", "retry_after",
/// "blocked", "transient" or "rejected" (fw::to_string(telegram_status)).
struct telegram_attempt {
  std::string status;
  std::int64_t retry_after_s = 0; // for "retry_after": how long Telegram asked to wait
  std::string error;              // Telegram's description or what failed; never the token
  friend bool operator==(const telegram_attempt&, const telegram_attempt&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, telegram_attempt& x) {
  return f(caf::meta::type_name("fw.telegram_attempt"), x.status, x.retry_after_s, x.error);
}

/// One notification as GET /notifier/notifications/<email> lists it.
struct notification {
  std::string event_id;
  std::string user_email;
  std::string airport_code;
  std::string kind;    // firing, repeat, resolved, sla_breach
  std::string channel; // telegram or console
  std::string text;
  std::string status;  // pending, sent, failed, skipped
  std::string error;
  std::int64_t attempts = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  friend bool operator==(const notification&, const notification&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, notification& x) {
  return f(caf::meta::type_name("fw.notification"), x.event_id, x.user_email, x.airport_code,
           x.kind, x.channel, x.text, x.status, x.error, x.attempts, x.created_at_ms,
           x.updated_at_ms);
}

/// One PromQL query's answer for the SLA watchdog. `outcome`: "value" (the first sample,
/// in `value`), "empty" (no series), "nan", "bad_query" (Prometheus rejected the PromQL),
/// "unreachable" (no answer, or not one from Prometheus). Only "value" is a sample.
struct prometheus_sample {
  std::string outcome;
  double value = 0;
  std::string error; // why it is not a sample
  friend bool operator==(const prometheus_sample&, const prometheus_sample&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, prometheus_sample& x) {
  return f(caf::meta::type_name("fw.prometheus_sample"), x.outcome, x.value, x.error);
}

/// What a node tells its peers about itself (cluster service): its name (node.name,
/// unique in the cluster), the address peers reach it by (host:port), when it started,
/// the roles it hosts with their handles (same order), the peers it knows (addresses, so
/// a node that knows one seed learns the whole cluster) and its cluster service.
struct node_info {
  std::string name;
  std::string address;
  std::int64_t started_at_ms = 0;
  std::vector<std::string> roles;
  std::vector<caf::actor> handles;
  std::vector<std::string> peers;
  caf::actor cluster;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("fw.node_info"), x.name, x.address, x.started_at_ms, x.roles,
           x.handles, x.peers, x.cluster);
}

/// Work for a storage worker: `run` executes on the worker's own thread with its open
/// session; `operation` names it for the store latency metric; a `bulk` task is long (a
/// collection's flight batch), and the storage service keeps it off the workers that short
/// tasks need (persistence/worker_choice.hpp). Local only.
struct db_task {
  const char* operation = "";
  std::function<void(store_session&)> run;
  bool bulk = false;
};

} // namespace fw
