#pragma once
// The SLA watchdog's document (config/sla.yaml, and the body of POST
// /sla-detector/sla/config): the gauges to watch, each a PromQL query with a [min, max]
// range, how often to check them and where Prometheus is. The YAML file and the JSON body
// share one shape (the seed's) and one validation, so a file that loads is a body that
// posts and vice versa.

#include "config/settings.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <vector>

namespace fw {

struct sla_metric {
  std::string name;           // unique; the "metric" label of the watchdog's own series
  std::string type = "gauge"; // the only type supported (as the seed)
  std::string query;          // PromQL; its first sample is the observed value
  double min = 0;
  double max = 0;
  friend bool operator==(const sla_metric&, const sla_metric&) = default;
};

struct sla_document {
  std::vector<sla_metric> metrics;
  duration t_check{std::chrono::seconds{80}}; // sampling period, at least 5 x scrape interval
  std::string prometheus_url = "http://127.0.0.1:9090";
  friend bool operator==(const sla_document&, const sla_document&) = default;
};

/// The document, or one line naming the offending field ("metrics[1].max: ...").
struct sla_parse_result {
  std::optional<sla_document> value;
  std::string error;
};

/// Reads a JSON document. Absent `settings` keys keep the values of `base` (an update may
/// post the metrics alone); `metrics` is required. Unknown keys are errors. The seed's
/// `settings.kafka_bootstrap_servers` and `settings.kafka_topic` are accepted: the node's
/// kafka.* settings decide the transport, and the topic must be sla_breach.
sla_parse_result sla_from_json(const nlohmann::json& body, const sla_document& base);

/// Reads the YAML file (same shape), or says why not, naming the file.
sla_parse_result load_sla_file(const std::string& path);

/// The document in the seed's shape; t_check in seconds.
nlohmann::json sla_to_json(const sla_document& doc);

} // namespace fw
