#pragma once
// Reading Prometheus' HTTP API answers (pure functions, so every case is unit-tested):
// instant queries (/api/v1/query) and the scrape interval in /api/v1/status/config.

#include "config/settings.hpp"
#include "messages/types.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace fw::sla {

/// Used when Prometheus' configuration sets no global scrape_interval (its own default).
inline constexpr duration default_scrape_interval{std::chrono::seconds{15}};

/// A Prometheus duration: "15s", "1m30s", "500ms", "2h", "1d", "1w", "1y".
std::optional<duration> parse_prometheus_duration(std::string_view text);

/// The answer to GET /api/v1/query (HTTP status and body) as a sample: the first sample
/// of a vector, or a scalar; an empty vector, NaN or infinity, a rejected query (HTTP
/// 400/422, or a range vector where a value is needed) are not samples.
prometheus_sample parse_query_reply(long http_status, const std::string& body);

/// global.scrape_interval from the body of GET /api/v1/status/config, the default when it
/// sets none; nullopt when the body is not such an answer.
std::optional<duration> parse_scrape_interval(const std::string& body);

} // namespace fw::sla
