#pragma once
// The text of a notification: HTML for Telegram (every dynamic part escaped) and the same
// words as plain text for the console channel and the log.

#include "messages/types.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace fw::notifier {

struct text {
  std::string html;
  std::string plain;
};

/// For an alert notice (firing, repeat, resolved).
text alert_text(const alert_notice& n);
/// For an sla_breach event: {metric, observed_value, threshold_violated, breach_type,
/// violations_count, ...}; throws nlohmann::json::exception when a field is missing.
text breach_text(const nlohmann::json& breach);

} // namespace fw::notifier
