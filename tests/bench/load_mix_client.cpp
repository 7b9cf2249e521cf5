// load_mix_client: the load mix of tests/bench/load_mix.py (the seed's 002 section 9) as a
// native client, so that tests/bench/load_mix.sh gets per-route percentiles it can trust:
// Locust reports whole milliseconds and its own scheduling on the shared cores adds 5-20 ms
// to its p99. Same tasks and weights, same requests in the same order, same route names,
// expected statuses and body checks as load_mix.py; one keep-alive HTTP/1.1 connection per
// simulated user (reconnected when the server closes it), all users as coroutines on one
// thread. Writes Locust 2.12's CSV files, so load_mix.sh reads either client's output.
//
//   load_mix_client --host http://HOST:PORT [-u USERS] [-r SPAWN_RATE] [-d SECONDS]
//       [--think MIN-MAX|0] [--run ID] [--csv PREFIX] [--timeout SECONDS] [--slow MS]
//
// Defaults: -u 100 -r 10 -d 60 --think 1-2 --timeout 10, a random run id. Users start at
// SPAWN_RATE per second; each registers itself, then runs weighted tasks with a think time
// drawn uniformly from [MIN, MAX] seconds after each. SECONDS after the start no user
// starts a new task; those running finish (each request bounded by --timeout, a timeout
// being a failure), then the client exits.
// --csv PREFIX writes PREFIX_stats.csv (per route and Aggregated: counts, then times in ms
// with two decimals, exact nearest-rank percentiles), PREFIX_failures.csv (per route and
// kind of failure: the first message and how many) and PREFIX_stats_history.csv (every 2 s:
// requests/s, failures/s and percentiles over the last 10 s, totals so far).
// --slow MS lists every request that took MS ms or more on stderr (when it started, route,
// target, time, status), to find where a tail comes from.
// Exit status: 0 without failures, 1 with any failure, 2 for bad arguments.

// Boost 1.74 Asio/Beast with -std=c++20 on g++ 12 needs <utility> before any Boost header.
#include <utility>

#include "actors/common/gzip.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using clock_type = std::chrono::steady_clock;
using net::awaitable;
using net::use_awaitable;

constexpr std::string_view usage_text =
    "usage: load_mix_client --host http://HOST:PORT [-u USERS] [-r SPAWN_RATE] [-d SECONDS]\n"
    "           [--think MIN-MAX|0] [--run ID] [--csv PREFIX] [--timeout SECONDS] [--slow MS]\n"
    "Runs tests/bench/load_mix.py's scenario (defaults: -u 100 -r 10 -d 60 --think 1-2\n"
    "--timeout 10, a random run id); --csv writes Locust's PREFIX_stats.csv,\n"
    "PREFIX_failures.csv and PREFIX_stats_history.csv; --slow lists each request that took\n"
    "MS ms or more on stderr. Exit status 0 without failures,\n"
    "1 with failures, 2 for bad arguments.\n";

constexpr std::size_t max_body_size = 64u << 20;
constexpr auto history_interval = std::chrono::seconds{2};
constexpr auto history_window = std::chrono::seconds{10};

// -- options ---------------------------------------------------------------------------------

struct options {
  int users = 100;
  double spawn_rate = 10;
  double duration_s = 60;
  double think_min_s = 1;
  double think_max_s = 2;
  double timeout_s = 10;
  std::string run;
  std::string host;    ///< as given, for messages
  std::string address; ///< host name or address to connect to
  std::string port = "80";
  std::string base_path; ///< a path prefix of --host, without its trailing '/'
  std::string csv_prefix;
  double slow_ms = 0; ///< requests at least this slow are listed on stderr; 0: none
};

template <class Number>
std::optional<Number> parse_number(std::string_view s) {
  Number value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return value;
}

/// A positive, finite number (seconds, or users per second) into `out`.
bool parse_positive(std::string_view s, double& out) {
  auto x = parse_number<double>(s);
  if (!x || !(*x > 0 && *x < 1e9)) // no NaN or infinity either
    return false;
  out = *x;
  return true;
}

/// "MIN-MAX" seconds, or "0" (or empty) for none, or "N" for N-N: as load_mix.py reads
/// FW_MIX_THINK.
bool parse_think(std::string_view spec, options& opts) {
  if (spec.empty() || spec == "0") {
    opts.think_min_s = opts.think_max_s = 0;
    return true;
  }
  auto dash = spec.find('-');
  auto low = parse_number<double>(spec.substr(0, dash));
  auto high = dash == std::string_view::npos ? low : parse_number<double>(spec.substr(dash + 1));
  if (!low || !high || !(*low >= 0 && *high >= *low && *high < 1e6)) // no NaN either
    return false;
  opts.think_min_s = *low;
  opts.think_max_s = *high;
  return true;
}

/// http://HOST[:PORT][/PATH]; HOST may be a bracketed IPv6 address.
bool parse_host(std::string_view url, options& opts) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme))
    return false;
  opts.host = url;
  url.remove_prefix(scheme.size());
  auto slash = url.find('/');
  auto authority = url.substr(0, slash);
  opts.base_path = slash == std::string_view::npos ? "" : std::string{url.substr(slash)};
  while (!opts.base_path.empty() && opts.base_path.back() == '/')
    opts.base_path.pop_back();
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    auto port = parse_number<unsigned>(authority.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535)
      return false;
    opts.port = std::to_string(*port);
    authority = authority.substr(0, colon);
  }
  if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']')
    authority = authority.substr(1, authority.size() - 2);
  opts.address = authority;
  return !opts.address.empty();
}

std::string random_hex(std::mt19937_64& rng, std::size_t digits) {
  constexpr std::string_view hex = "0123456789abcdef";
  std::string out(digits, '0');
  for (auto& c : out)
    c = hex[rng() & 0xf];
  return out;
}

/// The options, or nullopt after printing why they are not valid.
std::optional<options> parse_options(int argc, char** argv, std::mt19937_64& rng) {
  options opts;
  bool have_host = false;
  auto fail = [](const std::string& why) -> std::optional<options> {
    std::cerr << "load_mix_client: " << why << "\n" << usage_text;
    return std::nullopt;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i + 1 >= argc)
      return fail("'" + std::string{arg} + "' is unknown or lacks its value");
    std::string_view value = argv[++i];
    bool ok = true;
    if (arg == "-u") {
      auto n = parse_number<int>(value);
      ok = n && *n >= 1;
      opts.users = n.value_or(0);
    } else if (arg == "-r") {
      ok = parse_positive(value, opts.spawn_rate);
    } else if (arg == "-d") {
      ok = parse_positive(value, opts.duration_s);
    } else if (arg == "--timeout") {
      ok = parse_positive(value, opts.timeout_s);
    } else if (arg == "--think") {
      ok = parse_think(value, opts);
    } else if (arg == "--run") {
      ok = !value.empty();
      opts.run = value;
    } else if (arg == "--host") {
      ok = have_host = parse_host(value, opts);
    } else if (arg == "--slow") {
      ok = parse_positive(value, opts.slow_ms);
    } else if (arg == "--csv") {
      ok = !value.empty();
      opts.csv_prefix = value;
    } else {
      return fail("unknown argument '" + std::string{arg} + "'");
    }
    if (!ok)
      return fail("bad value '" + std::string{value} + "' for " + std::string{arg});
  }
  if (!have_host)
    return fail("--host http://HOST:PORT is required");
  if (opts.run.empty())
    opts.run = random_hex(rng, 8); // as uuid.uuid4().hex[:8]
  return opts;
}

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

constexpr std::array<route_info, static_cast<std::size_t>(route::count)> routes = {{
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

const route_info& info(route r) {
  return routes[static_cast<std::size_t>(r)];
}

/// Beast 1.74 speaks boost::string_view.
std::string_view method_name(route r) {
  auto name = http::to_string(info(r).method);
  return {name.data(), name.size()};
}

enum class failure_kind : std::size_t { status, body, connection, timeout, count };

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
              std::optional<failure> f) {
    auto& s = per_route[static_cast<std::size_t>(r)];
    s.latencies_us.push_back(latency_us);
    s.content_bytes += content_size;
    content_bytes += content_size;
    all.push_back({at_s, latency_us, f.has_value()});
    if (!f)
      return;
    ++s.failures;
    ++failures;
    auto& tally = s.by_kind[static_cast<std::size_t>(f->kind)];
    if (tally.occurrences++ == 0)
      tally.first_message = std::move(f->message);
  }
};

// Percentiles as Locust reports them, in per ten thousand.
constexpr std::array<unsigned, 11> percentiles = {5000, 6600, 7500, 8000, 9000, 9500,
                                                  9800, 9900, 9990, 9999, 10000};
constexpr std::string_view percentile_columns = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";

/// Nearest rank: the smallest sample that at least that share of the samples do not exceed.
/// `sorted` is sorted and not empty.
float percentile(const std::vector<float>& sorted, unsigned per_ten_thousand) {
  auto rank = (sorted.size() * per_ten_thousand + 9999) / 10000; // ceil, in integers
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

std::string fixed2(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  return buf;
}

/// Microseconds as milliseconds with two decimals.
std::string ms(double us) {
  return fixed2(us / 1000);
}

/// The percentile columns of sorted latencies ("N/A" each when there are none).
std::string percentile_fields(const std::vector<float>& sorted) {
  std::string out;
  for (auto p : percentiles) {
    out += ',';
    out += sorted.empty() ? "N/A" : ms(percentile(sorted, p));
  }
  return out;
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos)
    return std::string{s};
  std::string out = "\"";
  for (char c : s) {
    if (c == '"')
      out += '"';
    out += c;
  }
  return out + '"';
}

/// One row of PREFIX_stats.csv: Locust's columns, times in ms.
std::string stats_row(std::string_view type, std::string_view name, std::vector<float> latencies,
                      std::uint64_t failures, std::uint64_t content_bytes, double duration_s) {
  std::sort(latencies.begin(), latencies.end());
  const auto n = latencies.size();
  double sum = 0;
  for (auto l : latencies)
    sum += l;
  auto row = std::string{type} + ',' + csv_field(name) + ',' + std::to_string(n) + ',' +
             std::to_string(failures) + ',';
  row += n ? ms(percentile(latencies, 5000)) + ',' + ms(sum / n) + ',' + ms(latencies.front()) +
                 ',' + ms(latencies.back())
           : std::string{"0,0,0,0"};
  row += ',' + fixed2(n ? double(content_bytes) / n : 0) + ',' + fixed2(n / duration_s) + ',' +
         fixed2(failures / duration_s);
  return row + percentile_fields(latencies) + '\n';
}

std::string stats_csv(const statistics& stats, double duration_s) {
  std::string out = "Type,Name,Request Count,Failure Count,Median Response Time,"
                    "Average Response Time,Min Response Time,Max Response Time,"
                    "Average Content Size,Requests/s,Failures/s," +
                    std::string{percentile_columns} + '\n';
  // Locust's order: by name, then method.
  std::vector<route> order;
  for (std::size_t i = 0; i < routes.size(); ++i)
    if (!stats.per_route[i].latencies_us.empty())
      order.push_back(static_cast<route>(i));
  std::sort(order.begin(), order.end(), [](route a, route b) {
    return std::pair{info(a).name, info(a).method} < std::pair{info(b).name, info(b).method};
  });
  for (auto r : order) {
    const auto& s = stats.per_route[static_cast<std::size_t>(r)];
    out += stats_row(method_name(r), info(r).name, s.latencies_us, s.failures, s.content_bytes,
                     duration_s);
  }
  std::vector<float> all;
  all.reserve(stats.all.size());
  for (const auto& s : stats.all)
    all.push_back(s.latency_us);
  return out + stats_row("", "Aggregated", std::move(all), stats.failures, stats.content_bytes,
                         duration_s);
}

constexpr std::array<std::string_view, static_cast<std::size_t>(failure_kind::count)>
    failure_kind_names = {"status", "body", "connection", "timeout"};

/// PREFIX_failures.csv: one row per route and kind of failure (status, body, connection,
/// timeout) with the first message of that kind, the most frequent first.
std::string failures_csv(const statistics& stats) {
  struct row {
    route r;
    const failure_tally* tally;
  };
  std::vector<row> rows;
  for (std::size_t i = 0; i < routes.size(); ++i)
    for (const auto& t : stats.per_route[i].by_kind)
      if (t.occurrences > 0)
        rows.push_back({static_cast<route>(i), &t});
  std::stable_sort(rows.begin(), rows.end(), [](const row& a, const row& b) {
    return a.tally->occurrences > b.tally->occurrences;
  });
  std::string out = "Method,Name,Error,Occurrences\n";
  for (const auto& r : rows)
    out += std::string{method_name(r.r)} + ',' + csv_field(info(r.r).name) + ',' +
           csv_field(r.tally->first_message) + ',' + std::to_string(r.tally->occurrences) + '\n';
  return out;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out)
    std::cerr << "load_mix_client: cannot write " << path << "\n";
  return bool(out);
}

// -- the scenario's data ------------------------------------------------------------------------

constexpr std::array<std::string_view, 9> airports = {"LICC", "LIRF", "LIMC", "KJFK", "EGLL",
                                                      "RJTT", "EDDF", "LFPG", "OMDB"};
constexpr std::array<std::string_view, 4> busy_airports = {"LIRF", "EGLL", "EDDF", "LFPG"};

/// An Italian IBAN with a valid ISO 13616 checksum, as load_mix.py's _iban.
std::string iban(std::uint64_t serial) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%012llu", static_cast<unsigned long long>(serial));
  const std::string bban = std::string{"X0542811101"} + digits;
  // The mod 97 of the number made of every character's base-36 value, taken piecewise.
  unsigned rest = 0;
  for (char c : bban + "IT00") {
    const unsigned v = c >= '0' && c <= '9' ? unsigned(c - '0') : unsigned(c - 'A' + 10);
    rest = (rest * (v >= 10 ? 100 : 10) + v) % 97;
  }
  char check[8];
  std::snprintf(check, sizeof check, "IT%02u", 98 - rest);
  return check + bban;
}

std::string upper(std::string s) {
  for (auto& c : s)
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
  return s;
}

// -- HTTP ---------------------------------------------------------------------------------------

/// Replaces an encoded body by its content, as Locust's client does; false if it cannot.
bool decode_body(http::response<http::string_body>& res) {
  auto encoding = res[http::field::content_encoding];
  if (encoding.empty() || beast::iequals(encoding, "identity"))
    return true;
  if (!beast::iequals(encoding, "gzip") && !beast::iequals(encoding, "x-gzip"))
    return false; // the only coding asked for
  auto decoded = fw::gzip_decompress(res.body(), max_body_size);
  if (!decoded)
    return false;
  res.body() = std::move(*decoded);
  return true;
}

bool is_timeout(const error_code& ec) {
  return ec == beast::error::timeout;
}

/// A keep-alive connection the server closed while it was idle: the request never reached it.
bool is_stale(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe;
}

/// One user's keep-alive connection, opened when a request needs it.
class connection {
public:
  connection(net::any_io_executor ex, const tcp::resolver::results_type& endpoints,
             std::uint64_t& connects)
    : stream_(std::move(ex)), endpoints_(endpoints), connects_(connects) {}

  /// Sends `req` and reads the whole answer (then in response()), connecting first if the
  /// connection is closed, all within `timeout`. A reused connection that turns out closed
  /// by the server is reconnected and the request sent once more, as Locust's client does.
  awaitable<error_code> exchange(const http::request<http::string_body>& req,
                                 clock_type::duration timeout) {
    error_code ec;
    stream_.expires_after(timeout);
    for (int attempt = 0;; ++attempt) {
      const bool reused = stream_.socket().is_open();
      if (!reused) {
        co_await stream_.async_connect(endpoints_, net::redirect_error(use_awaitable, ec));
        if (ec)
          break;
        ++connects_;
        stream_.socket().set_option(tcp::no_delay(true), ec);
      }
      parser_.emplace();
      parser_->body_limit(max_body_size);
      co_await http::async_write(stream_, req, net::redirect_error(use_awaitable, ec));
      if (!ec)
        co_await http::async_read(stream_, buffer_, *parser_,
                                  net::redirect_error(use_awaitable, ec));
      if (!ec || !reused || attempt > 0 || !is_stale(ec))
        break;
      close();
    }
    stream_.expires_never(); // an idle connection waits through the think time
    if (ec || !parser_->get().keep_alive())
      close();
    if (!ec)
      response_ = parser_->release();
    co_return ec;
  }

  http::response<http::string_body>& response() {
    return response_;
  }

  void close() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.consume(buffer_.size());
  }

private:
  beast::tcp_stream stream_;
  const tcp::resolver::results_type& endpoints_;
  std::uint64_t& connects_; ///< of the whole run: more than one per user means reconnects
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

// -- the run ------------------------------------------------------------------------------------

/// Whether a body is a JSON array, checked without building the document. Flight lists are
/// tens of KB and the node answers the same page of an airport many times over (it keeps its
/// answers for seconds): a body equal to the last one that passed for its target passes
/// without being parsed again, which nearly halves the client's CPU at saturation.
class list_checker {
public:
  bool is_list(const std::string& target, const std::string& body) {
    auto& last = last_passed_[target];
    if (!last.empty() && body == last)
      return true;
    auto first = body.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || body[first] != '[' || !nlohmann::json::accept(body))
      return false;
    last = body;
    return true;
  }

private:
  std::unordered_map<std::string, std::string> last_passed_; ///< per target
};

/// What every user shares: the options, the target, the clock, randomness and statistics.
struct run_context {
  options opts;
  tcp::resolver::results_type endpoints;
  std::string host_header;
  std::string timeout_text; ///< "10 s", for the timeout failures
  clock_type::time_point start;
  clock_type::time_point deadline;
  std::mt19937_64 rng;
  std::uint64_t serial = 0; ///< users made so far, as load_mix.py's _serial
  int pid = 0;
  std::optional<std::string> sla_document; ///< the node's SLA document, read once
  list_checker lists;
  std::uint64_t connects = 0; ///< connections opened
  statistics stats;
  int active_users = 0;
  bool spawning_done = false;
  net::steady_timer* history_timer = nullptr; ///< woken when the last user ends

  bool stopping() const {
    return clock_type::now() >= deadline;
  }

  bool all_users_ended() const {
    return spawning_done && active_users == 0;
  }

  float seconds_since_start(clock_type::time_point t) const {
    return std::chrono::duration<float>(t - start).count();
  }

  template <class Range>
  std::string_view choice(const Range& r) {
    return r[std::uniform_int_distribution<std::size_t>(0, r.size() - 1)(rng)];
  }

  int randint(int low, int high) { // inclusive, as Python's random.randint
    return std::uniform_int_distribution<int>(low, high)(rng);
  }
};

/// What a body must hold besides the status (load_mix.py's `check` lambdas).
enum class body_check {
  none,
  email_is,        ///< an object whose "email" is `expected`
  is_list,         ///< a JSON array
  airport_code_is, ///< an object whose "airport_code" is `expected`
  has_metrics,     ///< `"metrics" in r.json()`
  replayed_header, ///< the header Idempotent-Replayed: true
};

bool body_passes(body_check check, std::string_view expected, const std::string& target,
                 const http::response<http::string_body>& res, list_checker& lists) {
  const auto& body = res.body();
  switch (check) {
  case body_check::none:
    return true;
  case body_check::replayed_header:
    return res["Idempotent-Replayed"] == "true";
  case body_check::is_list:
    return lists.is_list(target, body);
  default:
    break;
  }
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (check == body_check::has_metrics) {
    if (j.is_object())
      return j.contains("metrics");
    if (j.is_array())
      return std::find(j.begin(), j.end(), "metrics") != j.end();
    return j.is_string() && j.get_ref<const std::string&>().find("metrics") != std::string::npos;
  }
  auto key = check == body_check::email_is ? "email" : "airport_code";
  if (!j.is_object())
    return false;
  auto it = j.find(key);
  return it != j.end() && it->is_string() && it->get_ref<const std::string&>() == expected;
}

/// At most 200 bytes of a body, cut at a character boundary, on one line.
std::string excerpt(std::string_view body) {
  auto n = std::min<std::size_t>(body.size(), 200);
  while (n < body.size() && n > 0 && (static_cast<unsigned char>(body[n]) & 0xc0) == 0x80)
    --n; // not inside a UTF-8 sequence
  std::string out{body.substr(0, n)};
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return out;
}

struct new_user {
  std::string email;
  std::string body; ///< the JSON sent, sent again unchanged by a replay
  std::string key;
};

/// One simulated user: load_mix.py's FlightwatchUser, on its own connection.
class user {
public:
  user(run_context& ctx, net::any_io_executor ex)
    : ctx_(ctx), conn_(ex, ctx.endpoints, ctx.connects), think_timer_(ex) {}

  awaitable<void> run() {
    co_await on_start();
    while (!ctx_.stopping()) {
      co_await run_task();
      co_await think();
    }
    conn_.close();
  }

  // The tasks, in load_mix.py's order.
  awaitable<void> ping_every_role() {
    for (auto r : {route::ping_user_manager, route::ping_data_collector, route::ping_notifier,
                   route::ping_sla_detector}) {
      auto name = info(r).name;
      co_await call(r, std::string{name.substr(name.find(' ') + 1)}, 200);
    }
  }

  awaitable<void> user_lifecycle() {
    auto created = co_await create_user(route::create_user);
    co_await call(route::get_user, "/user-manager/users/" + created.email, 200, nullptr, {},
                  body_check::email_is, created.email);
    // Unique: another user's chat id is a 409. As uuid4().int % 2**62 + 1.
    auto chat = std::to_string((ctx_.rng() & ((std::uint64_t{1} << 62) - 1)) + 1);
    const nlohmann::ordered_json link{{"email", created.email}, {"telegram_chat_id", chat}};
    const auto body = link.dump();
    co_await call(route::link_telegram, "/user-manager/users/telegram", 200, &body);
  }

  awaitable<void> flight_reads() {
    auto airport = std::string{ctx_.choice(airports)};
    co_await read_flights(airport);
    co_await call(route::flights_arrivals, "/data-collector/flights/" + airport + "?type=arrivals",
                  200, nullptr, {}, body_check::is_list);
    co_await read_average(airport);
    co_await call(route::flights_last, "/data-collector/flights/last/" + airport, 200);
  }

  awaitable<void> add_or_update_interest() {
    co_await upsert_interest(std::nullopt);
  }

  awaitable<void> idempotency_collision() {
    auto created = co_await create_user(route::create_user_first_of_key);
    co_await call(route::create_user_replayed_key, "/user-manager/users", 201, &created.body,
                  created.key, body_check::replayed_header);
  }

  awaitable<void> interest_flood() {
    for (int i = 0; i < 5; ++i)
      co_await upsert_interest(route::add_interest_flood);
  }

  awaitable<void> heavy_reads_on_busy_airports() {
    auto airport = std::string{ctx_.choice(busy_airports)};
    co_await read_average(airport);
    co_await read_flights(airport);
  }

  awaitable<void> sla_config_read() {
    co_await call(route::sla_config_read, "/sla-detector/sla/config", 200, nullptr, {},
                  body_check::has_metrics);
    // Kept once, as load_mix.py keeps r.json() of the first 200 (checked or not); posted
    // back as the very text read.
    if (!ctx_.sla_document && last_status_ == 200 &&
        nlohmann::json::accept(conn_.response().body()))
      ctx_.sla_document = conn_.response().body();
  }

  awaitable<void> sla_stats_read() {
    co_await call(route::sla_breach_stats, "/sla-detector/breach/stats", 200);
  }

  awaitable<void> sla_metrics() {
    co_await call(route::sla_metrics, "/sla-detector/metrics", 200);
  }

  awaitable<void> sla_health() {
    co_await call(route::sla_health, "/sla-detector/health", 200);
  }

  awaitable<void> sla_config_update() {
    if (!ctx_.sla_document)
      co_await sla_config_read();
    if (ctx_.sla_document) // set once, never changed: the pointer stays valid
      co_await call(route::sla_config_update, "/sla-detector/sla/config", 200, &*ctx_.sla_document);
  }

private:
  awaitable<void> on_start() {
    auto created = co_await create_user(route::create_user);
    email_ = std::move(created.email);
  }

  awaitable<void> run_task();

  awaitable<void> think() {
    if (ctx_.opts.think_max_s <= 0)
      co_return;
    auto pause = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(std::uniform_real_distribution<double>(
            ctx_.opts.think_min_s, ctx_.opts.think_max_s)(ctx_.rng)));
    think_timer_.expires_at(std::min(clock_type::now() + pause, ctx_.deadline));
    co_await think_timer_.async_wait(use_awaitable);
  }

  /// load_mix.py's _new_user_body, POSTed with a fresh Idempotency-Key.
  awaitable<new_user> create_user(route name) {
    const auto n = ++ctx_.serial;
    const auto pid = std::to_string(ctx_.pid);
    new_user u;
    u.email = "mix-" + ctx_.opts.run + '-' + pid + '-' + std::to_string(n) + "@load.example.org";
    const nlohmann::ordered_json body{
        {"email", u.email},
        {"first_name", "Load"},
        {"last_name", "User " + std::to_string(n)},
        {"tax_code", upper("MX" + ctx_.opts.run + pid + 'N' + std::to_string(n)).substr(0, 32)},
        {"iban", iban(n)},
    };
    u.body = body.dump();
    u.key = uuid4_hex();
    co_await call(name, "/user-manager/users", 201, &u.body, u.key);
    co_return u;
  }

  awaitable<void> read_flights(const std::string& airport) {
    co_await call(route::flights, "/data-collector/flights/" + airport, 200, nullptr, {},
                  body_check::is_list);
  }

  awaitable<void> read_average(const std::string& airport) {
    co_await call(route::flights_average, "/data-collector/flights/average/" + airport + "?days=7",
                  200, nullptr, {}, body_check::airport_code_is, airport);
  }

  /// An interest in a random airport: a PUT when this user has one there (unless `name`
  /// says which POST route this is), else a POST.
  awaitable<void> upsert_interest(std::optional<route> name) {
    auto airport = std::string{ctx_.choice(airports)};
    const int high = ctx_.randint(200, 900);
    const int low = ctx_.randint(0, high - 1);
    const nlohmann::ordered_json interest{
        {"email", email_}, {"airport_code", airport}, {"high_value", high}, {"low_value", low}};
    const auto body = interest.dump();
    if (interests_.contains(airport) && !name) {
      co_await call(route::update_interest, "/data-collector/interests", 200, &body);
    } else {
      co_await call(name.value_or(route::add_interest), "/data-collector/interests", 201, &body);
      interests_.insert(airport);
    }
  }

  /// uuid.uuid4().hex: 32 hex digits, version 4, RFC 4122 variant.
  std::string uuid4_hex() {
    auto key = random_hex(ctx_.rng, 32);
    key[12] = '4';
    key[16] = "89ab"[ctx_.rng() & 3];
    return key;
  }

  /// One request, timed and counted under `r`: a failure when the connection fails, the
  /// answer is late, its status is not `expect` or its body fails `check`.
  awaitable<bool> call(route r, std::string target, unsigned expect,
                       const std::string* body = nullptr, std::string_view key = {},
                       body_check check = body_check::none, std::string_view expected = {}) {
    http::request<http::string_body> req{info(r).method, ctx_.opts.base_path + target, 11};
    req.set(http::field::host, ctx_.host_header);
    req.set(http::field::user_agent, "fw-load-mix-client");
    req.set(http::field::accept_encoding, "gzip");
    if (body) {
      req.set(http::field::content_type, "application/json");
      req.body() = *body;
    }
    if (!key.empty())
      req.set("Idempotency-Key", beast::string_view{key.data(), key.size()});
    req.prepare_payload();

    const auto timeout = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(ctx_.opts.timeout_s));
    const auto begin = clock_type::now();
    const auto ec = co_await conn_.exchange(req, timeout);
    const auto end = clock_type::now();

    std::optional<failure> f;
    std::size_t content_size = 0;
    last_status_ = 0;
    if (ec) {
      f = is_timeout(ec)
              ? failure{failure_kind::timeout, "no complete answer within " + ctx_.timeout_text}
              : failure{failure_kind::connection, "connection error: " + ec.message()};
    } else {
      auto& res = conn_.response();
      last_status_ = res.result_int();
      if (!decode_body(res)) {
        f = failure{failure_kind::body, "undecodable body (Content-Encoding: " +
                                            std::string{res[http::field::content_encoding]} + ")"};
      } else if (last_status_ != expect) {
        f = failure{failure_kind::status, "status " + std::to_string(last_status_) + ", expected " +
                                              std::to_string(expect) + ": " + excerpt(res.body())};
      } else if (!body_passes(check, expected, target, res, ctx_.lists)) {
        f = failure{failure_kind::body, "unexpected body: " + excerpt(res.body())};
      }
      content_size = res.body().size();
    }
    const auto latency_us = std::chrono::duration<float, std::micro>(end - begin).count();
    if (ctx_.opts.slow_ms > 0 && latency_us >= ctx_.opts.slow_ms * 1000)
      std::cerr << "slow: +" << fixed2(ctx_.seconds_since_start(begin)) << " s " << info(r).name
                << " " << target << " " << ms(latency_us) << " ms, status " << last_status_
                << "\n";
    ctx_.stats.record(r, ctx_.seconds_since_start(end), latency_us, content_size, std::move(f));
    co_return !f;
  }

  run_context& ctx_;
  connection conn_;
  net::steady_timer think_timer_;
  std::string email_;               ///< the user registered by on_start
  std::set<std::string> interests_; ///< airports it has an interest in
  unsigned last_status_ = 0;        ///< of the last answer, 0 when there was none
};

struct weighted_task {
  int weight;
  awaitable<void> (user::*run)();
};

/// load_mix.py's @task weights, in its order.
constexpr std::array<weighted_task, 12> tasks = {{
    {1, &user::ping_every_role},
    {5, &user::user_lifecycle},
    {10, &user::flight_reads},
    {3, &user::add_or_update_interest},
    {2, &user::idempotency_collision},
    {4, &user::interest_flood},
    {4, &user::heavy_reads_on_busy_airports},
    {3, &user::sla_config_read},
    {3, &user::sla_stats_read},
    {1, &user::sla_metrics},
    {2, &user::sla_health},
    {1, &user::sla_config_update},
}};

constexpr int total_weight = [] {
  int sum = 0;
  for (const auto& t : tasks)
    sum += t.weight;
  return sum;
}();

/// A task drawn with its weight as probability (as Locust's random.choice over the task
/// list, where a task of weight w appears w times).
awaitable<void> user::run_task() {
  int pick = std::uniform_int_distribution<int>(0, total_weight - 1)(ctx_.rng);
  for (const auto& t : tasks) {
    if (pick < t.weight) {
      co_await (this->*t.run)();
      co_return;
    }
    pick -= t.weight;
  }
}

void user_ended(run_context& ctx) {
  --ctx.active_users;
  if (ctx.all_users_ended() && ctx.history_timer)
    ctx.history_timer->cancel();
}

/// A user's whole life; the spawner counted it in active_users already.
awaitable<void> run_user(run_context& ctx) {
  user u{ctx, co_await net::this_coro::executor};
  co_await u.run();
  user_ended(ctx);
}

/// Completion of a spawned coroutine: an exception (a defect) ends the run through run().
void rethrow(std::exception_ptr e) {
  if (e)
    std::rethrow_exception(e);
}

/// Starts the users at the spawn rate until all run or the deadline passes.
awaitable<void> spawn_users(run_context& ctx) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer timer{ex};
  for (int i = 0; i < ctx.opts.users; ++i) {
    ++ctx.active_users; // now, not when the coroutine first runs: the history sees it at once
    net::co_spawn(ex, run_user(ctx), rethrow);
    auto next = ctx.start + std::chrono::duration_cast<clock_type::duration>(
                                std::chrono::duration<double>((i + 1) / ctx.opts.spawn_rate));
    if (i + 1 == ctx.opts.users || next >= ctx.deadline)
      break;
    timer.expires_at(next);
    co_await timer.async_wait(use_awaitable);
  }
  ctx.spawning_done = true;
}

/// One row of PREFIX_stats_history.csv (Locust's columns, Aggregated): rates and percentiles
/// over the last 10 s, totals since the start.
std::string history_row(const run_context& ctx, clock_type::time_point now) {
  const auto& all = ctx.stats.all;
  const float now_s = ctx.seconds_since_start(now);
  const float window_s = std::min(now_s, std::chrono::duration<float>(history_window).count());
  auto first = std::lower_bound(all.begin(), all.end(), now_s - window_s,
                                [](const sample& s, float t) { return s.at_s < t; });
  std::vector<float> window;
  std::uint64_t window_failures = 0;
  for (auto it = first; it != all.end(); ++it) {
    window.push_back(it->latency_us);
    window_failures += it->failed;
  }
  std::sort(window.begin(), window.end());

  std::vector<float> total;
  total.reserve(all.size());
  double sum = 0;
  float min = std::numeric_limits<float>::max(), max = 0;
  for (const auto& s : all) {
    total.push_back(s.latency_us);
    sum += s.latency_us;
    min = std::min(min, s.latency_us);
    max = std::max(max, s.latency_us);
  }
  std::string median = "0";
  if (!total.empty()) {
    auto mid = total.begin() + static_cast<std::ptrdiff_t>((total.size() + 1) / 2 - 1);
    std::nth_element(total.begin(), mid, total.end()); // the nearest-rank median
    median = ms(*mid);
  }
  const auto n = all.size();
  const double per_s = window_s > 0 ? 1 / double(window_s) : 0;
  return std::to_string(std::time(nullptr)) + ',' + std::to_string(ctx.active_users) +
         ",,Aggregated," + fixed2(window.size() * per_s) + ',' + fixed2(window_failures * per_s) +
         percentile_fields(window) + ',' + std::to_string(n) + ',' +
         std::to_string(ctx.stats.failures) + ',' + median + ',' + ms(n ? sum / n : 0) + ',' +
         ms(n ? min : 0) + ',' + ms(max) + ',' +
         fixed2(n ? double(ctx.stats.content_bytes) / n : 0) + '\n';
}

/// Appends a history row every 2 s until the last user has ended, and one then.
awaitable<void> write_history(run_context& ctx, std::string path) {
  std::ofstream out(path, std::ios::trunc);
  out << "Timestamp,User Count,Type,Name,Requests/s,Failures/s," << percentile_columns
      << ",Total Request Count,Total Failure Count,Total Median Response Time,"
         "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
         "Total Average Content Size\n";
  net::steady_timer timer{co_await net::this_coro::executor};
  ctx.history_timer = &timer;
  auto next = ctx.start;
  for (;;) {
    if (!ctx.all_users_ended()) {
      next += history_interval;
      timer.expires_at(next);
      error_code ec; // cancelled when the last user ends
      co_await timer.async_wait(net::redirect_error(use_awaitable, ec));
    }
    out << history_row(ctx, clock_type::now()) << std::flush;
    if (ctx.all_users_ended())
      break;
  }
  ctx.history_timer = nullptr;
  if (!out)
    std::cerr << "load_mix_client: cannot write " << path << "\n";
}

/// A short table on stdout: per route requests, failures, p50, p99, max (ms).
void print_summary(const run_context& ctx, double duration_s) {
  std::printf("load_mix_client: run %s, %d users, %.1f s, %zu requests (%.1f/s), %llu failed, "
              "%llu connections opened\n",
              ctx.opts.run.c_str(), ctx.opts.users, duration_s, ctx.stats.all.size(),
              ctx.stats.all.size() / duration_s,
              static_cast<unsigned long long>(ctx.stats.failures),
              static_cast<unsigned long long>(ctx.connects));
  std::printf("%-55s %8s %8s %9s %9s %9s\n", "route", "requests", "failures", "p50 ms", "p99 ms",
              "max ms");
  for (std::size_t i = 0; i < routes.size(); ++i) {
    auto sorted = ctx.stats.per_route[i].latencies_us;
    if (sorted.empty())
      continue;
    std::sort(sorted.begin(), sorted.end());
    std::printf("%-55s %8zu %8llu %9s %9s %9s\n", std::string{routes[i].name}.c_str(),
                sorted.size(), static_cast<unsigned long long>(ctx.stats.per_route[i].failures),
                ms(percentile(sorted, 5000)).c_str(), ms(percentile(sorted, 9900)).c_str(),
                ms(sorted.back()).c_str());
    for (std::size_t k = 0; k < failure_kind_names.size(); ++k)
      if (const auto& t = ctx.stats.per_route[i].by_kind[k]; t.occurrences > 0)
        std::printf("  %llu x %s, first: %s\n", static_cast<unsigned long long>(t.occurrences),
                    std::string{failure_kind_names[k]}.c_str(), t.first_message.c_str());
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string_view{argv[1]} == "-h" || std::string_view{argv[1]} == "--help")) {
    std::cout << usage_text;
    return 0;
  }
  run_context ctx;
  ctx.rng.seed(std::random_device{}());
  auto opts = parse_options(argc, argv, ctx.rng);
  if (!opts)
    return 2;
  ctx.opts = std::move(*opts);
  ctx.pid = static_cast<int>(::getpid());
  char timeout_text[32];
  std::snprintf(timeout_text, sizeof timeout_text, "%g s", ctx.opts.timeout_s);
  ctx.timeout_text = timeout_text;

  try {
    net::io_context io{1};
    error_code ec;
    ctx.endpoints = tcp::resolver{io}.resolve(ctx.opts.address, ctx.opts.port, ec);
    if (ec) {
      std::cerr << "load_mix_client: cannot resolve " << ctx.opts.host << ": " << ec.message()
                << "\n";
      return 2;
    }
    const bool default_port = ctx.opts.port == "80";
    ctx.host_header =
        (ctx.opts.address.find(':') != std::string::npos ? '[' + ctx.opts.address + ']'
                                                         : ctx.opts.address) +
        (default_port ? "" : ':' + ctx.opts.port);
    ctx.stats.all.reserve(1 << 16);
    ctx.start = clock_type::now();
    ctx.deadline = ctx.start + std::chrono::duration_cast<clock_type::duration>(
                                   std::chrono::duration<double>(ctx.opts.duration_s));
    net::co_spawn(io, spawn_users(ctx), rethrow);
    if (!ctx.opts.csv_prefix.empty())
      net::co_spawn(io, write_history(ctx, ctx.opts.csv_prefix + "_stats_history.csv"), rethrow);
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "load_mix_client: " << e.what() << "\n";
    return 1;
  }
  const double duration_s = std::chrono::duration<double>(clock_type::now() - ctx.start).count();

  print_summary(ctx, duration_s);
  bool written = true;
  if (!ctx.opts.csv_prefix.empty()) {
    written = write_file(ctx.opts.csv_prefix + "_stats.csv", stats_csv(ctx.stats, duration_s)) &&
              write_file(ctx.opts.csv_prefix + "_failures.csv", failures_csv(ctx.stats));
  }
  return ctx.stats.failures == 0 && written ? 0 : 1;
}
