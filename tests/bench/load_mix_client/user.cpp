// Boost 1.74 Asio/Beast with -std=c++20 on g++ 12 needs <utility> before any Boost header.
#include <utility>

#include "tests/bench/load_mix_client/user.hpp"

#include "actors/common/text.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <iostream>
#include <set>

namespace fw::load_mix {

namespace {

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

} // namespace

// -- the body checks ----------------------------------------------------------------------------

bool list_checker::is_list(const std::string& target, const std::string& body) {
  auto& last = last_passed_[target];
  if (!last.empty() && body == last)
    return true;
  auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || body[first] != '[' || !nlohmann::json::accept(body))
    return false;
  last = body;
  return true;
}

namespace {

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

// -- the user -----------------------------------------------------------------------------------

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
        {"tax_code", to_upper("MX" + ctx_.opts.run + pid + 'N' + std::to_string(n)).substr(0, 32)},
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
    auto key = random_hex_id(16);
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

} // namespace

awaitable<void> run_user(run_context& ctx) {
  user u{ctx, co_await net::this_coro::executor};
  co_await u.run();
  user_ended(ctx);
}

} // namespace fw::load_mix
