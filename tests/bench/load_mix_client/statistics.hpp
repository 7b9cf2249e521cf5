#pragma once
// load_mix_client's statistics: the routes, every request's time and failure per route, and
// Locust's three CSV files made from them (stats, failures, stats history).

// Boost 1.74 Asio/Beast with -std=c++20 on g++ 12 needs <utility> before any Boost header.
#include <utility>

#include <boost/beast/http/verb.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fw::load_mix {

namespace http = boost::beast::http;

// -- routes and statistics ------------------------------------------------------------------

/// Every statistics name of load_mix.py (its `name` arguments), with the method.
enum class route : std::size_t {
  ping_user_manager,
  ping_data_collector,
  ping_notifier,
  ping_sla_detector,
  create_user,
  get_user,
  link_telegram,
  flights,
  flights_arrivals,
  flights_average,
  flights_last,
  update_interest,
  add_interest,
  add_interest_flood,
  create_user_first_of_key,
  create_user_replayed_key,
  sla_config_read,
  sla_breach_stats,
  sla_metrics,
  sla_health,
  sla_config_update,
  count
};

struct route_info {
  http::verb method;
  std::string_view name;
};

inline constexpr std::array<route_info, static_cast<std::size_t>(route::count)> routes = {{
    {http::verb::get, "GET /user-manager/ping"},
    {http::verb::get, "GET /data-collector/ping"},
    {http::verb::get, "GET /notifier/ping"},
    {http::verb::get, "GET /sla-detector/ping"},
    {http::verb::post, "POST /user-manager/users"},
    {http::verb::get, "GET /user-manager/users/{email}"},
    {http::verb::post, "POST /user-manager/users/telegram"},
    {http::verb::get, "GET /data-collector/flights/{airport}"},
    {http::verb::get, "GET /data-collector/flights/{airport}?type=arrivals"},
    {http::verb::get, "GET /data-collector/flights/average/{icao}"},
    {http::verb::get, "GET /data-collector/flights/last/{icao}"},
    {http::verb::put, "PUT /data-collector/interests"},
    {http::verb::post, "POST /data-collector/interests"},
    {http::verb::post, "POST /data-collector/interests (flood)"},
    {http::verb::post, "POST /user-manager/users (first of a key)"},
    {http::verb::post, "POST /user-manager/users (replayed key)"},
    {http::verb::get, "GET /sla-detector/sla/config"},
    {http::verb::get, "GET /sla-detector/breach/stats"},
    {http::verb::get, "GET /sla-detector/metrics"},
    {http::verb::get, "GET /sla-detector/health"},
    {http::verb::post, "POST /sla-detector/sla/config"},
}};

inline const route_info& info(route r) {
  return routes[static_cast<std::size_t>(r)];
}

enum class failure_kind : std::size_t { status, body, connection, timeout, count };

inline constexpr std::array<std::string_view, static_cast<std::size_t>(failure_kind::count)>
    failure_kind_names = {"status", "body", "connection", "timeout"};

struct failure {
  failure_kind kind;
  std::string message;
};

struct failure_tally {
  std::uint64_t occurrences = 0;
  std::string first_message;
};

struct route_stats {
  std::vector<float> latencies_us; ///< every request's, in completion order
  std::uint64_t failures = 0;
  std::uint64_t content_bytes = 0; ///< decoded bodies
  std::array<failure_tally, static_cast<std::size_t>(failure_kind::count)> by_kind{};
};

/// One request of any route, for the history's sliding window.
struct sample {
  float at_s; ///< completion, seconds since the start
  float latency_us;
  bool failed;
};

struct statistics {
  std::array<route_stats, static_cast<std::size_t>(route::count)> per_route{};
  std::vector<sample> all; ///< in completion order, so at_s never decreases
  std::uint64_t failures = 0;
  std::uint64_t content_bytes = 0;

  void record(route r, float at_s, float latency_us, std::size_t content_size,
              std::optional<failure> f);
};

/// Nearest rank: the smallest sample that at least that share of the samples do not exceed.
/// `sorted` is sorted and not empty.
float percentile(const std::vector<float>& sorted, unsigned per_ten_thousand);

std::string fixed2(double x);

/// Microseconds as milliseconds with two decimals.
std::string ms(double us);

// -- Locust's CSV files -------------------------------------------------------------------------

/// PREFIX_stats.csv: per route (Locust's order) and Aggregated, times in ms.
std::string stats_csv(const statistics& stats, double duration_s);

/// PREFIX_failures.csv: one row per route and kind of failure (status, body, connection,
/// timeout) with the first message of that kind, the most frequent first.
std::string failures_csv(const statistics& stats);

/// The first line of PREFIX_stats_history.csv: Locust's columns.
std::string history_csv_header();

/// One row of PREFIX_stats_history.csv (Locust's columns, Aggregated): rates and percentiles
/// over the last 10 s, totals since the start; `now_s` seconds after the start.
std::string history_row(const statistics& stats, int active_users, float now_s);

/// `text` into the file at `path`; false after saying so on stderr if it cannot.
bool write_file(const std::string& path, const std::string& text);

} // namespace fw::load_mix
