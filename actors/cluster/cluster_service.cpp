#include "actors/cluster/cluster_service.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "messages/unix_time.hpp"

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>
#include <prometheus/gauge.h>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <map>

namespace fw {

namespace {

using namespace std::chrono;

constexpr const char* component = "cluster";
constexpr duration greeting_interval{milliseconds{500}};
constexpr duration first_backoff{milliseconds{200}};
constexpr duration max_backoff{seconds{5}};
/// A peer that is not a seed and stayed unreachable this long is forgotten (a node
/// removed for good, or a pod that came back under another address).
constexpr std::int64_t forget_after_ms = 60'000;

/// A node this one knows by address: up (greeted), connecting, or waiting to retry.
struct peer {
  std::string address;
  std::string name;  // empty until it answered once
  cluster_actor handle;
  std::int64_t started_at_ms = 0;
  std::vector<std::string> roles;
  std::int64_t since_ms = 0; // up since, or down since
  bool up = false;
  bool connecting = false;
  duration backoff = first_backoff;
};

struct cluster_state {
  static constexpr const char* name = "cluster";
  node_context_ptr ctx;
  std::string address; // how peers reach this node
  std::int64_t started_at_ms = unix_ms();
  std::map<std::string, peer> peers; // by address
  caf::io::middleman_actor middleman;
  bool published = false;
  prometheus::Gauge* peers_up = nullptr;
  prometheus::Gauge* peers_down = nullptr;

  const cluster_settings& cfg() const {
    return ctx->cfg.cluster;
  }
};

using cluster_impl =
  cluster_actor::extend<caf::reacts_to<join_atom>, caf::reacts_to<join_atom, std::string>>;
using self_pointer = cluster_impl::stateful_pointer<cluster_state>;

std::string advertised_address(const cluster_settings& c) {
  std::string host = c.advertise;
  if (host.empty() && c.host != "0.0.0.0")
    host = c.host;
  if (host.empty()) {
    char buf[256] = {};
    host = gethostname(buf, sizeof buf - 1) == 0 ? buf : "localhost";
  }
  return host + ":" + std::to_string(c.port);
}

/// The roles other nodes may call here (node services and the gateway stay local).
bool offered(const std::string& role) {
  const auto& roles = all_roles();
  return role != "gateway" && std::find(roles.begin(), roles.end(), role) != roles.end();
}

node_info my_info(self_pointer self) {
  auto& st = self->state;
  node_info info;
  info.name = st.ctx->cfg.node.name;
  info.address = st.address;
  info.started_at_ms = st.started_at_ms;
  for (auto& [role, handle] : st.ctx->directory->all())
    if (offered(role)) {
      info.roles.push_back(role);
      info.handles.push_back(handle);
    }
  // Only peers known to be up: a node gone for good is not passed around.
  for (const auto& [address, p] : st.peers)
    if (p.up)
      info.peers.push_back(address);
  info.cluster = caf::actor_cast<caf::actor>(self);
  return info;
}

/// flightwatch_cluster_peers{state}: known peers up and not up.
void count_peers(cluster_state& st) {
  if (!st.peers_up)
    return;
  size_t up = 0;
  for (const auto& [address, p] : st.peers)
    up += p.up;
  st.peers_up->Set(static_cast<double>(up));
  st.peers_down->Set(static_cast<double>(st.peers.size() - up));
}

void schedule_retry(self_pointer self, peer& p) {
  self->delayed_send(self, p.backoff, join_atom::value, p.address);
  p.backoff = std::min(p.backoff * 2, max_backoff);
}

void connect(self_pointer self, const std::string& address);

/// What a peer said about itself (its answer to our greeting, or its own greeting).
void learn(self_pointer self, const std::string& via_address, const node_info& info) {
  auto& st = self->state;
  if (info.name == st.ctx->cfg.node.name) {
    if (info.address != st.address)
      log::error(component, "node ", info.address, " has this node's name '", info.name,
                 "': set a unique node.name on every node; ignoring it");
    st.peers.erase(via_address); // ourselves (a seed that names this node)
    return;
  }
  auto& p = st.peers[info.address];
  p.address = info.address;
  if (via_address != info.address)
    st.peers.erase(via_address); // known by another address: keep the advertised one
  // The same node at a new address (restarted elsewhere): the old entry's loss must not
  // withdraw the roles it offers now.
  for (auto& [address, other] : st.peers)
    if (address != info.address && other.name == info.name && other.up) {
      other.up = false;
      other.since_ms = unix_ms();
    }
  auto handle = caf::actor_cast<cluster_actor>(info.cluster);
  const bool joined = !p.up || p.handle != handle;
  p.name = info.name;
  p.handle = handle;
  p.started_at_ms = info.started_at_ms;
  p.roles = info.roles;
  p.connecting = false;
  p.backoff = first_backoff;
  std::vector<std::pair<std::string, caf::actor>> roles;
  for (size_t i = 0; i < info.roles.size() && i < info.handles.size(); ++i)
    roles.emplace_back(info.roles[i], info.handles[i]);
  st.ctx->directory->put_node(info.name, std::move(roles));
  if (joined) {
    p.up = true;
    p.since_ms = unix_ms();
    self->monitor(p.handle);
    std::string list;
    for (const auto& r : info.roles)
      list += (list.empty() ? "" : ",") + r;
    log::info(component, "node ", info.name, " (", info.address, ") is up with roles ",
              list.empty() ? "(none)" : list);
  }
  count_peers(st);
  for (const auto& address : info.peers)
    if (address != st.address && !st.peers.count(address)) {
      st.peers[address].address = address;
      connect(self, address);
    }
}

void connect(self_pointer self, const std::string& address) {
  auto& st = self->state;
  auto& p = st.peers[address];
  p.address = address;
  if (p.up || p.connecting)
    return;
  std::string host;
  std::uint16_t port = 0;
  if (!split_address(address, host, port)) {
    log::error(component, "ignoring peer '", address, "': expected host:port");
    st.peers.erase(address);
    return;
  }
  p.connecting = true;
  const auto timeout = st.cfg().connection_timeout * 2;
  auto failed = [self, address](const caf::error& err) {
    auto& st = self->state;
    auto i = st.peers.find(address);
    if (i == st.peers.end())
      return;
    i->second.connecting = false;
    log::debug(component, "cannot reach ", address, ": ", message_of(err));
    schedule_retry(self, i->second);
  };
  self->request(st.middleman, timeout, caf::connect_atom::value, host, port)
    .then(
      [self, address, timeout, failed](const caf::node_id&, caf::strong_actor_ptr& ptr,
                                       const std::set<std::string>&) {
        if (!ptr)
          return failed(make_error(ec::unavailable, "no cluster service published there"));
        auto handle = caf::actor_cast<cluster_actor>(std::move(ptr));
        self->request(handle, timeout, hello_atom::value, my_info(self))
          .then([self, address](node_info& info) { learn(self, address, info); },
                [failed](caf::error& err) { failed(err); });
      },
      [failed](caf::error& err) { failed(err); });
}

/// A monitored peer went down (killed, connection lost or timed out).
void lost(self_pointer self, const caf::actor_addr& source, const caf::error& reason) {
  auto& st = self->state;
  for (auto& [address, p] : st.peers) {
    if (!p.up || p.handle.address() != source)
      continue;
    p.up = false;
    p.since_ms = unix_ms();
    st.ctx->directory->erase_node(p.name);
    log::warn(component, "node ", p.name, " (", address, ") is lost: ", message_of(reason));
    p.backoff = first_backoff;
    schedule_retry(self, p);
    count_peers(st);
    return;
  }
}

void greet_all(self_pointer self) {
  auto& st = self->state;
  auto info = my_info(self);
  for (auto& [address, p] : st.peers)
    if (p.up)
      self->request(p.handle, st.cfg().connection_timeout, hello_atom::value, info)
        .then([self, address = address](node_info& reply) { learn(self, address, reply); },
              [](caf::error&) {
                // A lost peer is reported by its monitor (down message).
              });
}

std::string status_json(self_pointer self) {
  auto& st = self->state;
  const auto now = unix_ms();
  nlohmann::json nodes = nlohmann::json::array();
  std::vector<std::string> mine;
  for (auto& [role, handle] : st.ctx->directory->all())
    if (offered(role) || role == "gateway")
      mine.push_back(role);
  nodes.push_back({{"name", st.ctx->cfg.node.name},
                   {"address", st.cfg().enabled() ? nlohmann::json(st.address) : nullptr},
                   {"roles", mine},
                   {"state", "self"},
                   {"started_at_ms", st.started_at_ms},
                   {"uptime_s", (now - st.started_at_ms) / 1000}});
  for (const auto& [address, p] : st.peers) {
    nlohmann::json n{{"name", p.name.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.name)},
                     {"address", address},
                     {"roles", p.roles},
                     {"state", p.up ? "up" : (p.since_ms ? "lost" : "unreachable")},
                     {"since_ms", p.since_ms ? nlohmann::json(p.since_ms) : nullptr}};
    n["started_at_ms"] = p.up ? nlohmann::json(p.started_at_ms) : nullptr;
    n["uptime_s"] = p.up ? nlohmann::json((now - p.started_at_ms) / 1000) : nullptr;
    nodes.push_back(std::move(n));
  }
  return nlohmann::json{{"node", st.ctx->cfg.node.name},
                        {"cluster", st.cfg().enabled()},
                        {"nodes", std::move(nodes)}}
    .dump();
}

component_health health(const cluster_state& st) {
  if (!st.cfg().enabled())
    return {cluster_state::name, true, {}};
  if (!st.published)
    return {cluster_state::name, false, "not yet listening on port " + std::to_string(st.cfg().port)};
  size_t up = 0;
  for (const auto& [address, p] : st.peers)
    up += p.up;
  std::string detail = std::to_string(up) + " of " + std::to_string(st.peers.size())
                       + " known peer(s) up";
  return {cluster_state::name, true, detail};
}

cluster_impl::behavior_type cluster_service(self_pointer self, node_context_ptr ctx) {
  log_exceptions(self, cluster_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.ctx->directory->set_local_node(st.ctx->cfg.node.name);
  // After a restart of this service: the peers it knew are met again from scratch.
  st.ctx->directory->erase_all_nodes();
  if (st.cfg().enabled()) {
    auto& peers = prometheus::BuildGauge()
                    .Name("flightwatch_cluster_peers")
                    .Help("Peers this node knows, by state (up, down: lost or not reached yet)")
                    .Register(st.ctx->metrics->registry());
    auto labels = st.ctx->metrics->labels("cluster");
    labels.emplace("state", "up");
    st.peers_up = &peers.Add(labels);
    labels["state"] = "down";
    st.peers_down = &peers.Add(labels);
    st.address = advertised_address(st.cfg());
    st.middleman = st.cfg().tls_enabled() ? self->system().openssl_manager().actor_handle()
                                          : self->system().middleman().actor_handle();
    self->set_down_handler(
      [self](const caf::down_msg& msg) { lost(self, msg.source, msg.reason); });
    // Without reuse, a node restarted right after a crash could not bind its port again.
    self->request(st.middleman, seconds{10}, caf::publish_atom::value,
                  static_cast<std::uint16_t>(st.cfg().port),
                  caf::actor_cast<caf::strong_actor_ptr>(self), std::set<std::string>{},
                  st.cfg().host, true)
      .then(
        [self](std::uint16_t port) {
          auto& st = self->state;
          st.published = true;
          log::info(component, "node ", st.ctx->cfg.node.name, " listening on ",
                    st.cfg().host, ":", port, " as ", st.address,
                    st.cfg().tls_enabled() ? " (TLS)" : " (no TLS: unauthenticated)");
        },
        [self](caf::error& err) {
          log::error(component, "cannot listen on ", self->state.cfg().host, ":",
                     self->state.cfg().port, ": ", message_of(err));
          self->quit(std::move(err));
        });
    for (const auto& seed : st.cfg().seeds)
      if (seed != st.address)
        connect(self, seed);
    count_peers(st);
    self->delayed_send(self, greeting_interval, join_atom::value);
  }
  return {
    [self](ping_atom) { return self->state.ctx->make_pong(cluster_state::name); },
    [self](health_atom) { return health(self->state); },
    [self](hello_atom, node_info& info) {
      auto address = info.address;
      learn(self, address, info);
      return my_info(self);
    },
    [self](cluster_status_atom) { return status_json(self); },
    [self](join_atom) {
      greet_all(self);
      self->delayed_send(self, greeting_interval, join_atom::value);
    },
    [self](join_atom, const std::string& address) {
      auto& st = self->state;
      auto i = st.peers.find(address);
      if (i == st.peers.end())
        return;
      const auto& seeds = st.cfg().seeds;
      const auto down_since = i->second.since_ms ? i->second.since_ms : st.started_at_ms;
      if (!i->second.up && std::find(seeds.begin(), seeds.end(), address) == seeds.end()
          && unix_ms() - down_since > forget_after_ms) {
        log::info(component, "forgetting ", i->second.name.empty() ? address : i->second.name,
                  " (", address, "): unreachable for over a minute");
        st.peers.erase(i);
        count_peers(st);
        return;
      }
      connect(self, address);
    },
  };
}

} // namespace

bool split_address(const std::string& address, std::string& host, std::uint16_t& port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return false;
  unsigned value = 0;
  auto digits = std::string_view{address}.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || ptr != digits.data() + digits.size() || value == 0 || value > 65535)
    return false;
  host = address.substr(0, colon);
  port = static_cast<std::uint16_t>(value);
  return true;
}

caf::actor spawn_cluster_service(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(cluster_service, ctx));
}

} // namespace fw
