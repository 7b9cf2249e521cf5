#pragma once
// The node's Prometheus registry. Each actor keeps the handles it updates in its own
// state; this class owns the registry, adds process metrics and renders /metrics.

#include <prometheus/labels.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

namespace fw {

class node_metrics {
public:
  explicit node_metrics(std::string node);

  prometheus::Registry& registry() {
    return *registry_;
  }
  const std::string& node() const {
    return node_;
  }
  /// The labels every series carries: {service, node}.
  prometheus::Labels labels(const std::string& service) const {
    return {{"service", service}, {"node", node_}};
  }
  /// Text exposition format of every metric plus process_* metrics, read at call time.
  /// With `service`, only the series labelled service=`service` (and process_*), as that
  /// service alone would expose them.
  std::string scrape(std::string_view service = {}) const;

private:
  std::string node_;
  std::shared_ptr<prometheus::Registry> registry_;
};

} // namespace fw
