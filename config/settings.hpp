#pragma once
// The node's effective configuration: built-in defaults, then config/flightwatch.yaml (or
// --config FILE), then FW_<SECTION>_<KEY> environment variables, then --roles. Loading
// fails with one line naming the offending key; nothing unknown is silently ignored.

#include <chrono>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fw {

using duration = std::chrono::milliseconds;

/// Names of the roles a node can host, in start order (the gateway last, so it accepts
/// requests only once the roles behind it run).
inline const std::vector<std::string>& all_roles() {
  static const std::vector<std::string> roles{"user-manager",    "data-collector",
                                              "alert-evaluator", "notifier",
                                              "sla-watchdog",    "gateway"};
  return roles;
}

struct node_settings {
  std::string name;                      // "node" label on metrics; default: host name
  std::vector<std::string> roles = all_roles();
  unsigned scheduler_threads = 0;        // CAF worker threads; 0: default_scheduler_threads()
  // CAF's scheduler: "sharing" (one queue, idle workers sleep until work arrives),
  // "affinity" (sharing, and an actor woken by the running one runs next on the same
  // thread), "stealing" (a queue per worker, idle workers poll), "auto" (affinity up
  // to 4 threads, stealing above)
  std::string scheduler_policy = "auto";
  unsigned max_restarts = 5;             // crashes of one role tolerated per window...
  duration restart_window{std::chrono::seconds{60}}; // ...before the node gives up
  duration restart_backoff{std::chrono::milliseconds{100}}; // first restart delay, doubled
  duration restart_backoff_max{std::chrono::seconds{5}};
  duration shutdown_timeout{std::chrono::seconds{5}};       // per child on shutdown
};

struct gateway_settings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned io_threads = 1;
  std::uint64_t max_body_bytes = 1 << 20;
  std::uint64_t max_header_bytes = 8192;
  std::uint64_t max_connections = 1024;
  duration request_timeout{std::chrono::seconds{10}};
  duration idle_timeout{std::chrono::seconds{30}};
  duration drain_timeout{std::chrono::seconds{1}}; // in-flight requests on shutdown
  bool access_log = true;
  std::string tls_cert_file; // TLS is on when both files are set
  std::string tls_key_file;
  std::uint16_t tls_port = 8443;

  bool tls_enabled() const {
    return !tls_cert_file.empty() && !tls_key_file.empty();
  }
};

struct storage_settings {
  std::string url = "sqlite://data/flightwatch.db"; // or postgresql://user:pw@host:port/db
  unsigned pool_size = 4;                  // worker threads, one connection each
  duration timeout{std::chrono::seconds{5}}; // a store call slower than this fails (503)
};

struct user_manager_settings {
  duration idempotency_ttl{std::chrono::hours{24}};           // keys are purged after
  duration idempotency_in_progress_timeout{std::chrono::seconds{30}}; // then re-claimable
  duration idempotency_purge_interval{std::chrono::minutes{10}};
};

struct opensky_settings {
  std::string base_url = "https://opensky-network.org/api";
  std::string auth_url =
    "https://auth.opensky-network.org/auth/realms/opensky-network/protocol/openid-connect/token";
  std::string client_id;
  std::string client_secret; // secret
  duration timeout{std::chrono::seconds{15}};  // one API call
  unsigned breaker_failures = 5;               // consecutive failures that open the breaker
  duration breaker_open{std::chrono::seconds{60}}; // then one trial call
};

struct collector_settings {
  duration interval{std::chrono::minutes{5}}; // one collection of every interest airport
  duration window{std::chrono::hours{24}};    // fetched and counted per collection
  unsigned max_in_flight = 4;                 // airports fetched concurrently
  duration query_cache_ttl{std::chrono::seconds{5}}; // flight query answers kept; 0 = off
  unsigned query_cache_mib = 8;                      // their memory, at most
};

struct telegram_settings {
  std::string api_url = "https://api.telegram.org";
  std::string bot_token; // secret; empty: notifications go to the log (console channel)
  duration timeout{std::chrono::seconds{10}};        // one API call (getUpdates adds its poll)
  duration per_chat_interval{std::chrono::seconds{1}}; // at most one message per chat per...
  unsigned global_per_second = 30;                   // messages per second over all chats
  unsigned max_attempts = 5;                         // per notification on 5xx / timeouts
  duration poll_timeout{std::chrono::seconds{30}};   // getUpdates long poll
};

struct kafka_settings {
  std::string brokers;                   // empty: in-process topics
  std::string group_prefix = "flightwatch"; // consumer group: <prefix>.<topic>
  std::uint64_t buffer_max_messages = 100000; // produced but not yet delivered
  unsigned max_in_flight = 256;          // consumed events awaiting their handler, per topic
  duration fetch_wait{std::chrono::milliseconds{5}};  // broker holds a fetch with no data
  duration linger{std::chrono::milliseconds{1}};      // producer batches this long at most
};

struct alerts_settings {
  duration repeat_interval{std::chrono::hours{4}}; // re-notify a condition still firing
};

struct notifier_settings {
  std::vector<std::string> admins; // user e-mails that receive SLA breaches
};

struct cluster_settings {
  unsigned port = 0;            // the node is published here for its peers; 0: no cluster
  std::string host = "127.0.0.1"; // address to listen on ("0.0.0.0": every interface)
  std::string advertise;        // host peers reach this node by; empty: host (or the host
                                // name when host is 0.0.0.0)
  std::vector<std::string> seeds; // host:port of nodes to join (one is enough)
  duration heartbeat{std::chrono::milliseconds{200}};     // between peers, both ways
  duration connection_timeout{std::chrono::seconds{1}};   // a silent peer is lost after
  std::string tls_cert_file; // all three set: TLS between nodes, both sides authenticated
  std::string tls_key_file;
  std::string tls_ca_file;

  bool enabled() const {
    return port != 0;
  }
  bool tls_enabled() const {
    return !tls_cert_file.empty();
  }
};

struct sla_document; // config/sla_document.hpp

struct sla_settings {
  // The SLA document (config/sla.yaml), relative to the --config file's directory; empty:
  // no metric is watched until one is posted. Read at start when the node runs the
  // sla-watchdog role, so a bad file stops start-up (and --check-config) naming it.
  std::string config_file;
  std::shared_ptr<const sla_document> document; // as loaded; null without a file
};

struct log_settings {
  std::string level = "info";
};

struct settings {
  node_settings node;
  gateway_settings gateway;
  storage_settings storage;
  user_manager_settings user_manager;
  opensky_settings opensky;
  collector_settings collector;
  telegram_settings telegram;
  kafka_settings kafka;
  alerts_settings alerts;
  notifier_settings notifier;
  sla_settings sla;
  cluster_settings cluster;
  log_settings log;

  /// Semantic checks (ranges, URL shapes, role names). Returns "<section>.<key>: why".
  std::optional<std::string> validate() const;
};

/// Where configuration comes from; `environment` is "KEY=VALUE" entries (environ).
struct config_sources {
  std::optional<std::string> file;             // --config FILE
  std::vector<std::string> environment;
  std::optional<std::string> roles_override;   // --roles a,b
};

/// Builds the effective settings, or the one-line error naming the key.
struct load_result {
  std::optional<settings> value;
  std::string error;
};
load_result load_settings(const config_sources& src);

/// What `node.scheduler_threads: 0` becomes on a machine with `cores` cores: one per
/// core, less the gateway's HTTP I/O threads when the node serves HTTP (they are busy
/// threads of their own), at least 1.
unsigned default_scheduler_threads(const settings& s, unsigned cores);

/// The effective settings as YAML, secrets masked.
std::string to_yaml(const settings& s);

/// Parses "300" (seconds), "300ms", "300s", "5m", "4h", "1d".
std::optional<duration> parse_duration(const std::string& text);

} // namespace fw
