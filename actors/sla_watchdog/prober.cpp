#include "actors/sla_watchdog/prober.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/http_client.hpp"
#include "actors/sla_watchdog/prometheus_api.hpp"
#include "messages/errors.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>

namespace fw {

namespace {

struct prober_state {
  static constexpr const char* name = "prometheus-prober";
  std::unique_ptr<http_client> http = std::make_unique<http_client>();
  duration timeout{};
};

/// Why `reply` is no answer from Prometheus, or "" when it is one.
std::string transport_failure(const http_reply& reply) {
  if (reply.status == 0)
    return reply.timed_out ? "timed out" : reply.error;
  return {};
}

prometheus_sample query(prober_state& st, const std::string& url, const std::string& promql) {
  auto reply = st.http->request("GET", url + "/api/v1/query?query=" + http_client::escape(promql),
                                {"Accept: application/json"}, {}, st.timeout);
  if (auto why = transport_failure(reply); !why.empty())
    return {"unreachable", 0, "Prometheus at " + url + " did not answer: " + why};
  return sla::parse_query_reply(reply.status, reply.body);
}

prometheus_prober_actor::behavior_type
prober(prometheus_prober_actor::stateful_pointer<prober_state> self, duration timeout) {
  log_exceptions(self, prober_state::name);
  self->state.timeout = timeout;
  return {
      [self](sample_atom, const std::string& url, const std::vector<std::string>& queries) {
        std::vector<prometheus_sample> out;
        out.reserve(queries.size());
        for (const auto& q : queries) {
          out.push_back(query(self->state, url, q));
          // One failed connection says enough about the others: do not wait out every
          // query's timeout against a Prometheus that is down.
          if (out.back().outcome == "unreachable")
            while (out.size() < queries.size())
              out.push_back(out.back());
        }
        return out;
      },
      [self](scrape_interval_atom, const std::string& url) -> caf::result<std::int64_t> {
        auto& st = self->state;
        auto reply = st.http->request("GET", url + "/api/v1/status/config",
                                      {"Accept: application/json"}, {}, st.timeout);
        if (auto why = transport_failure(reply); !why.empty())
          return make_error(ec::unavailable, "Prometheus at " + url + " did not answer: " + why);
        auto interval = sla::parse_scrape_interval(reply.body);
        if (!interval)
          return make_error(ec::unavailable, "no Prometheus configuration at " + url + " (HTTP " +
                                                 std::to_string(reply.status) + ")");
        return static_cast<std::int64_t>(interval->count());
      },
  };
}

} // namespace

prometheus_prober_actor spawn_prometheus_prober(caf::actor_system& sys, duration timeout) {
  return sys.spawn<caf::detached>(prober, timeout);
}

} // namespace fw
