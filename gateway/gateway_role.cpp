#include "gateway/gateway_role.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "gateway/http_server.hpp"
#include "gateway/routes.hpp"
#include "gateway/data_collector_routes.hpp"
#include "gateway/notifier_routes.hpp"
#include "gateway/sla_routes.hpp"
#include "gateway/user_manager_routes.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace fw {

namespace {

caf::behavior bridge(caf::event_based_actor* self) {
  return {
    [self](bridge_task& task) { task.run(self); },
  };
}

struct gateway_state {
  static constexpr const char* name = gateway_tag::name;
  node_context_ptr ctx;
  std::vector<caf::actor> bridges;
  caf::actor renderer; // builds the metrics text off the I/O thread
  std::shared_ptr<gateway::router> routes;
  std::unique_ptr<gateway::http_server> server;

  /// Stops accepting, drains, then ends the bridges. Idempotent.
  void shutdown() {
    if (server) {
      server->stop(ctx->cfg.gateway.drain_timeout);
      server.reset();
      log::info(name, "stopped accepting requests");
    }
    for (auto& b : bridges)
      caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
    bridges.clear();
    if (renderer)
      caf::anon_send_exit(renderer, caf::exit_reason::user_shutdown);
    renderer = nullptr;
  }

  ~gateway_state() {
    shutdown();
  }
};

gateway::server_options server_options_from(const gateway_settings& g) {
  gateway::server_options opts;
  opts.host = g.host;
  opts.port = g.port;
  opts.io_threads = g.io_threads;
  opts.limits.max_body_bytes = g.max_body_bytes;
  opts.limits.max_header_bytes = g.max_header_bytes;
  opts.limits.max_connections = g.max_connections;
  // The role call times out first (504 naming the role); the server's own limit is a
  // backstop for a handler that never answers.
  opts.limits.request_timeout = g.request_timeout + std::chrono::seconds{1};
  opts.limits.idle_timeout = g.idle_timeout;
  if (g.tls_enabled())
    opts.tls = gateway::tls_options{g.tls_cert_file, g.tls_key_file, g.tls_port};
  opts.access_log = g.access_log;
  opts.log_info = [](std::string_view line) { log::info("gateway.access", line); };
  opts.log_warn = [](std::string_view line) { log::warn("gateway", line); };
  return opts;
}

gateway_actor::behavior_type gateway_role(gateway_actor::stateful_pointer<gateway_state> self,
                                     node_context_ptr ctx) {
  log_exceptions(self, gateway_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  const auto& g = st.ctx->cfg.gateway;
  for (unsigned i = 0; i < g.io_threads; ++i)
    st.bridges.push_back(self->system().spawn(bridge));
  st.renderer = self->system().spawn<caf::detached>(bridge);
  auto metrics = std::make_shared<gateway::http_metrics>(*st.ctx->metrics);
  st.routes = std::make_shared<gateway::router>(metrics);
  gateway::route_services svc{
    st.ctx, std::make_shared<gateway::role_client>(st.bridges, st.ctx->directory,
                                                   g.request_timeout),
    st.renderer};
  gateway::add_node_routes(*st.routes, svc);
  gateway::add_user_manager_routes(*st.routes, svc);
  gateway::add_data_collector_routes(*st.routes, svc);
  gateway::add_notifier_routes(*st.routes, svc);
  gateway::add_sla_routes(*st.routes, svc);
  auto routes = st.routes;
  auto server = std::make_unique<gateway::http_server>(
    server_options_from(g), [routes](gateway::request&& req, gateway::responder done) {
      routes->dispatch(std::move(req), std::move(done));
    });
  server->start(); // throws with a clear message (e.g. port in use): the role crashes
  st.server = std::move(server);
  log::info(gateway_state::name, "listening on http://", g.host, ":", st.server->port(),
            g.tls_enabled() ? " (redirects to https, port " + std::to_string(st.server->tls_port())
                                + ")"
                            : std::string{});
  self->set_exit_handler([self](caf::exit_msg& msg) {
    self->state.shutdown();
    self->quit(msg.reason);
  });
  return {
    [self](ping_atom) { return self->state.ctx->make_pong(gateway_state::name); },
    [self](health_atom) {
      bool up = self->state.server != nullptr;
      return component_health{gateway_state::name, up, up ? "" : "not listening"};
    },
  };
}

} // namespace

caf::actor spawn_gateway(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn<caf::detached>(gateway_role, ctx));
}

} // namespace fw
