#pragma once
// The alert rules (seed 002 plus a lifecycle): an event's condition is "high" when the
// flight count exceeds high_value, "low" when it is below low_value, otherwise normal.
// Against the stored state of that (user, airport): a condition that starts fires, one
// that continues is repeated only after the repeat interval, and a return to normal
// resolves it. Pure functions, so the rules are tested without actors or storage.

#include "messages/types.hpp"
#include "persistence/stores.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace fw::alert_evaluator {

/// The seed's sentences.
std::string high_text(std::int64_t count, std::int64_t high);
std::string low_text(std::int64_t count, std::int64_t low);
std::string resolved_text(std::int64_t count, const std::string& previous_condition,
                          std::int64_t threshold);

struct outcome {
  std::optional<alert_store::state> next; // nullopt: nothing firing
  std::optional<alert_notice> notice;     // what to publish on to-notifier
};

/// Evaluates `ev` given what was firing before (`previous`, nullopt when nothing).
/// The notice's event_id is derived from the event's, so reprocessing an event yields
/// the same id (the notifier drops duplicates by it).
outcome evaluate(const traffic_event& ev, const std::optional<alert_store::state>& previous,
                 std::int64_t now_ms, std::chrono::milliseconds repeat_interval);

} // namespace fw::alert_evaluator
