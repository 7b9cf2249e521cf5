#pragma once
// The OpenSky Network REST client for /flights/arrival and /flights/departure: OAuth2
// client credentials (token cached, refreshed 30 s before expiry and once on 401),
// anonymous when no credentials are configured; intervals longer than two days split;
// 404 means "no flights"; 429 honours X-Rate-Limit-Retry-After-Seconds; a circuit
// breaker around every call. Failures are errors, never empty data: nothing is invented.
//
// One client is shared by the collector's fetch workers (thread-safe); each worker
// passes its own http_client.

#include "actors/common/circuit_breaker.hpp"
#include "actors/common/http_client.hpp"
#include "actors/common/metrics.hpp"
#include "config/settings.hpp"
#include "messages/types.hpp"

#include <caf/expected.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace fw {

enum class flight_kind { arrivals, departures };

/// "arrivals" / "departures".
const char* to_string(flight_kind kind);

/// Parses OpenSky's flights JSON (an array of flight objects); throws on malformed input.
std::vector<flight> parse_opensky_flights(const std::string& body);

class opensky_client {
public:
  opensky_client(const opensky_settings& cfg, node_metrics& metrics);

  /// Flights of `kind` at `airport` between `begin` and `end` (unix seconds). Errors:
  /// ec::unavailable (breaker open, rate limited, OpenSky down or answering 5xx),
  /// ec::timeout, ec::internal (unexpected answer).
  caf::expected<std::vector<flight>> fetch(http_client& http, flight_kind kind,
                                           const std::string& airport, std::int64_t begin,
                                           std::int64_t end);

  circuit_breaker::state breaker_state() const {
    return breaker_.current();
  }

private:
  using clock = std::chrono::steady_clock;

  /// One request of at most two days.
  caf::expected<std::vector<flight>> fetch_chunk(http_client& http, flight_kind kind,
                                                 const std::string& airport,
                                                 std::int64_t begin, std::int64_t end);
  /// The Authorization header ("" when anonymous); refreshes the token when due.
  caf::expected<std::string> authorization(http_client& http, bool force_refresh);
  void count_call(const std::string& status);
  void publish_breaker_state();

  opensky_settings cfg_;
  circuit_breaker breaker_;

  std::mutex mtx_; // guards the token and the rate-limit pause
  std::string token_;
  clock::time_point token_refresh_at_{};
  clock::time_point paused_until_{};

  node_metrics& metrics_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Gauge& breaker_gauge_;
  prometheus::Gauge& credits_gauge_;
};

} // namespace fw
