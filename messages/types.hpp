#pragma once
// The structs that travel between actors (and, later, between nodes and over Kafka).
// Each has a CAF inspect() for the wire and a JSON mapping in json.hpp.

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace caf {
class event_based_actor;
} // namespace caf

namespace fw {

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

} // namespace fw
