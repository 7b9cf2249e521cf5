#pragma once
// The seed's breach rule, kept pure: the last 10 samples per metric; 3 of them below min
// (or 3 above max) make a breach, after which the history starts afresh (as the seed).
// Beyond the seed, which raised the same breach again every third sample while a metric
// stayed out of range, one excursion gives one event: the next breach of that side needs
// a sample back in range first. And the rule between check and scrape periods.

#include "config/sla_document.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <deque>
#include <optional>
#include <string>

namespace fw::sla {

inline constexpr size_t history_size = 10;
inline constexpr size_t violations_for_breach = 3;
inline constexpr int scrape_factor = 5; // t_check >= 5 x scrape interval

struct breach {
  std::string type;     // "low" or "high"
  double threshold = 0; // the min or max violated
  double observed = 0;  // the sample that completed the breach
  size_t violations = 0;
};

/// The samples of one metric and the excursion already reported.
struct metric_window {
  std::deque<double> samples; // the last history_size, newest at the back
  std::string breached;       // "low"/"high" while a reported excursion lasts
};

/// Adds `value` to `window`; returns the breach it completes (clearing the samples), or
/// nothing.
std::optional<breach> record_sample(metric_window& window, const sla_metric& metric,
                                    double value);

/// The smallest t_check allowed with this scrape interval.
inline duration min_t_check(duration scrape_interval) {
  return scrape_interval * scrape_factor;
}

/// The sla_breach event (the seed's fields plus event_id).
nlohmann::json breach_event(const sla_metric& metric, const breach& b, const std::string& event_id,
                            double unix_seconds);

} // namespace fw::sla
