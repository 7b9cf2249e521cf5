#pragma once
// The live handle of each role this node can reach. Local roles are kept current by the
// node supervisor: a crashed role is absent until it is restarted, so callers (the
// gateway) never hold a dead handle. In a cluster the cluster service adds the roles of
// live peers and drops a peer's roles as soon as it is lost; a request goes to the local
// instance of a role when there is one, else to a peer's, in turn.

#include "actors/common/circuit_breaker.hpp"

#include <caf/actor.hpp>

#include <atomic>
#include <memory>
#include <map>
#include <shared_mutex>
#include <string>
#include <vector>

namespace fw {

class role_directory {
public:
  void put(const std::string& role, caf::actor handle);
  void erase(const std::string& role);
  /// The local instance of the role, else a peer's (each call the next peer's), or an
  /// invalid handle when no live instance is known.
  caf::actor get(const std::string& role) const;
  /// Snapshot of every local role and node service.
  std::vector<std::pair<std::string, caf::actor>> all() const;
  /// Drops every handle, local and remote (breaks reference cycles at shutdown).
  void clear();

  /// The roles a peer hosts (replacing what was known of it).
  void put_node(const std::string& node, std::vector<std::pair<std::string, caf::actor>> roles);
  /// A peer is lost: its roles are no longer offered.
  void erase_node(const std::string& node);
  /// Every peer's roles go (the cluster service starts afresh).
  void erase_all_nodes();
  /// The name of this node, under which instances() lists the local roles.
  void set_local_node(std::string name);
  /// Every live instance of `role` as (node, handle), this node's first, then the peers'
  /// by node name.
  std::vector<std::pair<std::string, caf::actor>> instances(const std::string& role) const;

  /// For callers that report how each call went (the gateway): as get(), but a peer's
  /// instance whose calls failed `breaker_failures` times in a row is skipped for
  /// `breaker_open`, then tried with one call. Every handle it returns must be reported.
  caf::actor pick(const std::string& role) const;
  /// How a call to `handle` (from pick) ended: answered (whatever the answer), or failed
  /// in transport (timed out, peer down).
  void report(const caf::actor& handle, bool answered) const;

  static constexpr unsigned breaker_failures = 3;
  static constexpr std::chrono::seconds breaker_open{5};

private:
  struct remote_instance {
    caf::actor handle;
    std::shared_ptr<circuit_breaker> breaker;
  };

  mutable std::shared_mutex mtx_;
  std::string local_node_;
  std::map<std::string, caf::actor, std::less<>> roles_;
  /// role -> (node -> instance) of the peers.
  std::map<std::string, std::map<std::string, remote_instance>, std::less<>> remote_;
  mutable std::atomic<std::size_t> turn_{0};
};

} // namespace fw
