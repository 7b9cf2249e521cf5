#include "actors/alert_evaluator/evaluation.hpp"

namespace fw::alert_evaluator {

std::string high_text(std::int64_t count, std::int64_t high) {
  return "The number of flights (" + std::to_string(count) + ") exceeded the high threshold of "
         + std::to_string(high) + ".";
}

std::string low_text(std::int64_t count, std::int64_t low) {
  return "The number of flights (" + std::to_string(count) + ") is below the low threshold of "
         + std::to_string(low) + ".";
}

std::string resolved_text(std::int64_t count, const std::string& previous_condition,
                          std::int64_t threshold) {
  return "The number of flights (" + std::to_string(count) + ") is no longer "
         + (previous_condition == "high" ? "above the high" : "below the low")
         + " threshold of " + std::to_string(threshold) + ".";
}

outcome evaluate(const traffic_event& ev, const std::optional<alert_store::state>& previous,
                 std::int64_t now_ms, std::chrono::milliseconds repeat_interval) {
  std::string condition;
  std::int64_t threshold = 0;
  if (ev.high_value && ev.flight_count > *ev.high_value) {
    condition = "high";
    threshold = *ev.high_value;
  } else if (ev.low_value && ev.flight_count < *ev.low_value) {
    condition = "low";
    threshold = *ev.low_value;
  }
  auto notice = [&](std::string kind, std::string text, std::int64_t limit) {
    return alert_notice{ev.event_id + ":" + kind, ev.user_email, ev.airport_code,
                        std::move(kind), std::move(text), ev.flight_count, limit, now_ms};
  };
  outcome out;
  if (condition.empty()) {
    if (previous) // it was firing: back to normal
      out.notice = notice("resolved",
                          resolved_text(ev.flight_count, previous->condition,
                                        previous->threshold),
                          previous->threshold);
    return out;
  }
  // The sentence is built only for a notice: most events change nothing.
  auto text = [&] {
    return condition == "high" ? high_text(ev.flight_count, threshold)
                               : low_text(ev.flight_count, threshold);
  };
  alert_store::state next{ev.user_email, ev.airport_code, condition, threshold,
                          ev.flight_count, now_ms, now_ms};
  if (!previous || previous->condition != condition) {
    out.notice = notice("firing", text(), threshold);
  } else {
    next.since_ms = previous->since_ms;
    next.last_notified_ms = previous->last_notified_ms;
    if (now_ms - previous->last_notified_ms >= repeat_interval.count()) {
      out.notice = notice("repeat", text(), threshold);
      next.last_notified_ms = now_ms;
    }
  }
  out.next = std::move(next);
  return out;
}

} // namespace fw::alert_evaluator
