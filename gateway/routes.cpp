#include "gateway/routes.hpp"

#include "gateway/error_status.hpp"
#include "gateway/http_metrics.hpp"
#include "gateway/responses.hpp"
#include "gateway/route_helpers.hpp"
#include "messages/json.hpp"

#include <caf/send.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <mutex>
#include <utility>

namespace fw::gateway {

namespace {

response metrics_response(const route_services& svc, const std::string& service,
                          unsigned version, bool keep_alive) {
  response res{http::status::ok, version};
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.set(http::field::server, "flightwatch");
  res.keep_alive(keep_alive);
  res.body() = svc.ctx->metrics->scrape(service);
  res.prepare_payload();
  return res;
}

/// The node's metrics text (only `service`'s series unless empty), built on the renderer: a
/// scrape takes milliseconds (about 2 ms for 115 KB after some traffic), for which the I/O
/// thread would hold up every other request on its connections.
void answer_metrics(const route_services& svc, std::string service, const request& req,
                    reply_fn reply) {
  auto build = [svc, service = std::move(service), version = req.version(),
                keep_alive = req.keep_alive(), reply = std::move(reply)](caf::event_based_actor*) {
    reply(metrics_response(svc, service, version, keep_alive));
  };
  if (svc.renderer)
    caf::anon_send(svc.renderer, bridge_task{std::move(build)});
  else
    build(nullptr);
}

/// The 200 answers of one role's ping route. The local instance of a role always sends the
/// same pong, so the answer to it for a plain HTTP/1.1 keep-alive request is built once and
/// copied: building it through nlohmann::json on every ping took about a quarter of the
/// gateway's user-space instructions per ping (docs/performance.md). Any other pong or
/// request gets its answer built as before.
class ping_answers {
public:
  explicit ping_answers(pong local)
    : local_(std::move(local)), common_(json_response(http::status::ok, nlohmann::json(local_))) {
  }

  response operator()(const pong& p, unsigned version, bool keep_alive) const {
    if (version == 11 && keep_alive && p == local_)
      return common_;
    return json_response(http::status::ok, nlohmann::json(p), version, keep_alive);
  }

private:
  pong local_;
  response common_; ///< json_response(200, local_) with its default version and keep-alive
};

/// Collects the health of several components and answers once all have replied.
struct health_gathering {
  std::mutex mtx;
  size_t pending = 0;
  std::vector<component_health> parts;
  reply_fn reply;
  unsigned version = 11;
  bool keep_alive = true;
  std::string node;

  void add(component_health h) {
    std::unique_lock guard{mtx};
    parts.push_back(std::move(h));
    if (--pending > 0)
      return;
    guard.unlock();
    std::sort(parts.begin(), parts.end(),
              [](const auto& a, const auto& b) { return a.component < b.component; });
    bool ready = std::all_of(parts.begin(), parts.end(), [](const auto& p) { return p.ready; });
    nlohmann::json components = nlohmann::json::object();
    for (const auto& p : parts) {
      nlohmann::json j = p;
      j.erase("component");
      components[p.component] = std::move(j);
    }
    nlohmann::json body{{"status", ready ? "ok" : "unavailable"},
                        {"node", node},
                        {"components", std::move(components)}};
    reply(json_response(ready ? http::status::ok : http::status::service_unavailable, body,
                        version, keep_alive));
  }
};

/// Asks each of `components` for its health and answers 200 when all are ready, else 503.
void gather_health(const route_services& svc, std::vector<std::string> components,
                   const request& req, reply_fn reply) {
  auto g = std::make_shared<health_gathering>();
  g->pending = components.size();
  g->reply = std::move(reply);
  g->version = req.version();
  g->keep_alive = req.keep_alive();
  g->node = svc.ctx->cfg.node.name;
  for (const auto& name : components) {
    svc.roles->ask<component_health>(
      name,
      [g, name](caf::expected<component_health> h) {
        if (h)
          g->add(std::move(*h));
        else
          g->add(component_health{name, false, message_of(h.error())});
      },
      health_atom::value);
  }
}

} // namespace

const std::vector<std::pair<std::string, std::string>>& role_prefixes() {
  static const std::vector<std::pair<std::string, std::string>> prefixes{
    {"/user-manager", "user-manager"},
    {"/data-collector", "data-collector"},
    {"/notifier", "notifier"},
    {"/sla-detector", "sla-watchdog"},
  };
  return prefixes;
}

void add_node_routes(router& r, const route_services& svc) {
  r.add(http::verb::get, "/metrics", "gateway",
        [svc](request_context& c, reply_fn reply) {
          answer_metrics(svc, {}, c.req, std::move(reply));
        });
  r.add(http::verb::get, "/health", "gateway", [svc](request_context& c, reply_fn reply) {
    std::vector<std::string> components{"storage", "topics"};
    if (svc.ctx->cfg.cluster.enabled())
      components.push_back("cluster");
    for (const auto& role : svc.ctx->cfg.node.roles)
      components.push_back(role);
    gather_health(svc, std::move(components), c.req, std::move(reply));
  });
  r.add(http::verb::get, "/cluster/status", "gateway", [svc](request_context& c, reply_fn reply) {
    answer_json_text(svc, "cluster", c, std::move(reply), cluster_status_atom::value);
  });
  for (const auto& [prefix, role] : role_prefixes()) {
    auto answers = std::make_shared<const ping_answers>(svc.ctx->make_pong(role));
    r.add(http::verb::get, prefix + "/ping", role,
          [svc, role = role, answers](request_context& c, reply_fn reply) {
            auto version = c.req.version();
            auto keep_alive = c.req.keep_alive();
            svc.roles->ask<pong>(
              role,
              [reply = std::move(reply), answers, version, keep_alive](caf::expected<pong> p) {
                if (p)
                  reply((*answers)(*p, version, keep_alive));
                else
                  reply(error_reply(p.error(), version, keep_alive));
              },
              ping_atom::value);
          });
    r.add(http::verb::get, prefix + "/health", role,
          [svc, role = role](request_context& c, reply_fn reply) {
            gather_health(svc, {role, "storage"}, c.req, std::move(reply));
          });
    // The role's own series, as the seed's service served them on its /metrics: a
    // Prometheus that scrapes each role's path of one node gets every series once.
    r.add(http::verb::get, prefix + "/metrics", role,
          [svc, service = service_label(role)](request_context& c, reply_fn reply) {
            answer_metrics(svc, service, c.req, std::move(reply));
          });
  }
}

} // namespace fw::gateway
