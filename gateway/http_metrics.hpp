#pragma once
// The gateway's HTTP metrics: http_requests_total{service,node,method,route,status},
// http_request_duration_seconds{service,node,method,route} (histogram) and
// http_requests_in_progress{service,node}. Handles are created once per route so the hot
// path only touches pre-built series.

#include "actors/common/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace fw::gateway {

/// The `service` label of a role's series: its name with '_' for '-' ("user-manager" →
/// "user_manager"), as the seed's dashboards and SLA queries select them.
std::string service_label(std::string role);

class http_metrics {
public:
  class route_metrics {
  public:
    route_metrics(http_metrics& parent, std::string service, std::string route);
    void begin();
    void end(const std::string& method, unsigned status, std::chrono::nanoseconds elapsed);

  private:
    struct series {
      std::string method;
      unsigned status;
      prometheus::Counter* total;
    };
    http_metrics& parent_;
    std::string service_;
    std::string route_;
    prometheus::Gauge* in_progress_;
    std::mutex mtx_;
    std::vector<series> counters_;
    std::vector<std::pair<std::string, prometheus::Histogram*>> durations_;
  };

  explicit http_metrics(node_metrics& node);

  /// The handles of one route; stable for the lifetime of this object.
  /// `service` is a role name; its label has '_' for '-' ("user-manager" → "user_manager").
  route_metrics& route(const std::string& service, const std::string& route);

private:
  friend class route_metrics;
  node_metrics& node_;
  prometheus::Family<prometheus::Counter>& total_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Gauge>& in_progress_;
  std::deque<route_metrics> routes_;
};

} // namespace fw::gateway
