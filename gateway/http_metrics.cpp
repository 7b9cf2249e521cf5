#include "gateway/http_metrics.hpp"

#include <algorithm>

namespace fw::gateway {

namespace {

const prometheus::Histogram::BucketBoundaries latency_buckets{
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

} // namespace

http_metrics::http_metrics(node_metrics& node)
  : node_(node),
    total_(prometheus::BuildCounter()
             .Name("http_requests_total")
             .Help("HTTP requests answered, by route and status")
             .Register(node.registry())),
    duration_(prometheus::BuildHistogram()
                .Name("http_request_duration_seconds")
                .Help("Time from routing a request to completing its response")
                .Register(node.registry())),
    in_progress_(prometheus::BuildGauge()
                   .Name("http_requests_in_progress")
                   .Help("HTTP requests being handled")
                   .Register(node.registry())) {
}

std::string service_label(std::string role) {
  std::replace(role.begin(), role.end(), '-', '_');
  return role;
}

http_metrics::route_metrics& http_metrics::route(const std::string& service,
                                                 const std::string& route) {
  return routes_.emplace_back(*this, service_label(service), route);
}

http_metrics::route_metrics::route_metrics(http_metrics& parent, std::string service,
                                           std::string route)
  : parent_(parent),
    service_(std::move(service)),
    route_(std::move(route)),
    in_progress_(&parent.in_progress_.Add(parent.node_.labels(service_))) {
}

void http_metrics::route_metrics::begin() {
  in_progress_->Increment();
}

void http_metrics::route_metrics::end(const std::string& method, unsigned status,
                                      std::chrono::nanoseconds elapsed) {
  in_progress_->Decrement();
  prometheus::Counter* total = nullptr;
  prometheus::Histogram* duration = nullptr;
  {
    std::lock_guard guard{mtx_};
    for (auto& s : counters_)
      if (s.status == status && s.method == method)
        total = s.total;
    for (auto& [m, h] : durations_)
      if (m == method)
        duration = h;
    if (total == nullptr) {
      auto labels = parent_.node_.labels(service_);
      labels.emplace("method", method);
      labels.emplace("route", route_);
      if (duration == nullptr) {
        duration = &parent_.duration_.Add(labels, latency_buckets);
        durations_.emplace_back(method, duration);
      }
      labels.emplace("status", std::to_string(status));
      total = &parent_.total_.Add(labels);
      counters_.push_back({method, status, total});
    }
  }
  total->Increment();
  duration->Observe(std::chrono::duration<double>(elapsed).count());
}

} // namespace fw::gateway
