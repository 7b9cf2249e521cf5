#include "actors/sla_watchdog/sla_rules.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace fw::sla {

std::optional<breach> record_sample(metric_window& window, const sla_metric& metric,
                                    double value) {
  auto& history = window.samples;
  history.push_back(value);
  while (history.size() > history_size)
    history.pop_front();
  if (value >= metric.min && value <= metric.max) {
    // In range: no breach now. A reported excursion is over, and its samples with it.
    if (!window.breached.empty()) {
      window.breached.clear();
      history.clear();
      history.push_back(value);
    }
    return std::nullopt;
  }
  auto below = static_cast<size_t>(
    std::count_if(history.begin(), history.end(), [&](double v) { return v < metric.min; }));
  auto above = static_cast<size_t>(
    std::count_if(history.begin(), history.end(), [&](double v) { return v > metric.max; }));
  std::optional<breach> out;
  if (value < metric.min && below >= violations_for_breach && window.breached != "low")
    out = breach{"low", metric.min, value, below};
  else if (value > metric.max && above >= violations_for_breach && window.breached != "high")
    out = breach{"high", metric.max, value, above};
  if (out) {
    history.clear();
    window.breached = out->type;
  }
  return out;
}

nlohmann::json breach_event(const sla_metric& metric, const breach& b, const std::string& event_id,
                            double unix_seconds) {
  return {{"event_id", event_id},         {"timestamp", unix_seconds},
          {"metric", metric.name},        {"query", metric.query},
          {"observed_value", b.observed}, {"threshold_violated", b.threshold},
          {"breach_type", b.type},        {"violations_count", b.violations}};
}

} // namespace fw::sla
