#include "actors/node/node.hpp"

#include "actors/node/affinity_scheduler.hpp"

#include "actors/common/log.hpp"
#include "actors/common/node_context.hpp"
#include "actors/common/text.hpp"
#include "actors/data_collector/kept_answers.hpp"
#include "actors/node/roles.hpp"
#include "actors/node/supervisor.hpp"
#include "messages/announce.hpp"
#include "messages/errors.hpp"
#include "messages/type_ids.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <atomic>
#include <exception>
#include <string_view>
#include <thread>

namespace fw {

namespace {

constexpr const char* component = "node";

/// Waits for SIGINT/SIGTERM on a dedicated thread (the signals are blocked everywhere
/// else) and asks the supervisor for an ordered shutdown. A second signal exits at once.
/// The thread polls a stop flag between waits so it ends once the node has stopped.
class signal_watcher {
public:
  explicit signal_watcher(caf::actor supervisor) {
    thread_ = std::thread{[this, supervisor] {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGINT);
      sigaddset(&set, SIGTERM);
      const timespec tick{0, 100'000'000};
      bool asked = false;
      while (!done_.load()) {
        int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig < 0)
          continue; // timeout or EINTR
        if (asked) {
          log::error(component, "second signal: exiting without waiting");
          std::_Exit(1);
        }
        asked = true;
        log::info(component, sig == SIGINT ? "SIGINT" : "SIGTERM", ": shutting down");
        caf::anon_send(supervisor, shutdown_atom::value);
      }
    }};
  }
  ~signal_watcher() {
    done_ = true;
    thread_.join();
  }

private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

/// "auto": one shared queue (with each thread's next-job slot) while it is uncontended,
/// stealing for many threads.
std::string_view scheduler_policy(const node_settings& node) {
  if (node.scheduler_policy == "auto")
    return node.scheduler_threads <= 4 ? "affinity" : "stealing";
  return node.scheduler_policy;
}

struct node_system_config : caf::actor_system_config {
  explicit node_system_config(const settings& cfg) {
    announce_types(*this);
    set("scheduler.max-threads", static_cast<size_t>(cfg.node.scheduler_threads));
    const auto policy = scheduler_policy(cfg.node);
    if (policy == "affinity") // a scheduler module loaded here replaces CAF's own
      module_factories.push_back([](caf::actor_system& sys) -> caf::actor_system::module* {
        return new caf::scheduler::coordinator<affinity_scheduling>(sys);
      });
    else
      set("scheduler.policy", policy == "sharing" ? caf::atom("sharing") : caf::atom("stealing"));
    set("logger.verbosity", caf::atom("quiet"));
    if (cfg.cluster.enabled()) {
      // Peers exchange heartbeats; one silent for connection_timeout is dropped, so a
      // hung node (not only a dead one) is noticed.
      load<caf::io::middleman>();
      set("middleman.heartbeat-interval", caf::timespan{cfg.cluster.heartbeat});
      set("middleman.connection-timeout", caf::timespan{cfg.cluster.connection_timeout});
      if (cfg.cluster.tls_enabled()) {
        load<caf::openssl::manager>();
        openssl_certificate = cfg.cluster.tls_cert_file;
        openssl_key = cfg.cluster.tls_key_file;
        openssl_cafile = cfg.cluster.tls_ca_file;
      }
    }
  }
};

} // namespace

namespace {

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

} // namespace

int run_node(const settings& cfg) {
  // Block before any thread starts so that every thread inherits the mask.
  block_termination_signals();
  log::level lvl = log::level::info;
  log::parse_level(cfg.log.level, lvl);
  log::set_level(lvl);

  try {
    prepare_crypto();
  } catch (const std::exception& e) {
    // Without random bytes a node can make no claim token, event id or link token.
    log::error(component, "OpenSSL is not usable: ", e.what());
    return 1;
  }
  node_system_config caf_cfg{cfg};
  caf::actor_system sys{caf_cfg};

  auto ctx = std::make_shared<node_context>();
  ctx->cfg = cfg;
  ctx->metrics = std::make_shared<node_metrics>(cfg.node.name);
  ctx->directory = std::make_shared<role_directory>();
  ctx->kept_answers = std::make_shared<data_collector::kept_answers>();

  auto sup_cfg = supervisor_config::from(cfg.node);
  sup_cfg.children = node_children(cfg.node.roles);
  if (auto err = sup_cfg.validate(); !err.empty()) {
    log::error(component, err);
    return 1;
  }
  std::string roles;
  for (const auto& r : cfg.node.roles)
    roles += (roles.empty() ? "" : ",") + r;
  log::info(component, "node ", cfg.node.name, " starting roles ", roles);
  if (cfg.kafka.brokers.empty())
    for (const auto& gap : in_process_topic_gaps(cfg.node.roles))
      log::warn(component, gap);
  auto supervisor = spawn_supervisor(sys, ctx, std::move(sup_cfg));
  caf::error reason;
  {
    signal_watcher watcher{supervisor};
    caf::scoped_actor self{sys};
    self->monitor(supervisor);
    self->receive([&](caf::down_msg& msg) { reason = std::move(msg.reason); });
  }
  if (reason && reason != caf::exit_reason::user_shutdown) {
    log::error(component, "stopped: ", message_of(reason));
    return 1;
  }
  log::info(component, "stopped");
  return 0;
}

} // namespace fw
