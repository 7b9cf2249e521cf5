#pragma once
// The structs that travel between actors (and, later, between nodes and over Kafka).
// Each has a CAF inspect() for the wire and a JSON mapping in json.hpp.

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

/// Work for a storage worker: `run` executes on the worker's own thread with its open
/// session; `operation` names it for the store latency metric. Local only.
struct db_task {
  const char* operation = "";
  std::function<void(store_session&)> run;
};

} // namespace fw
