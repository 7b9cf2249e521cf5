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

#include "tests/bench/load_mix_client/options.hpp"
#include "tests/bench/load_mix_client/statistics.hpp"
#include "tests/bench/load_mix_client/user.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <string_view>

namespace fw::load_mix {

namespace {

// -- the run ------------------------------------------------------------------------------------

constexpr auto history_interval = std::chrono::seconds{2};

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

/// Appends a history row every 2 s until the last user has ended, and one then.
awaitable<void> write_history(run_context& ctx, std::string path) {
  std::ofstream out(path, std::ios::trunc);
  out << history_csv_header();
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
    out << history_row(ctx.stats, ctx.active_users, ctx.seconds_since_start(clock_type::now()))
        << std::flush;
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

} // namespace fw::load_mix

int main(int argc, char** argv) {
  using namespace fw::load_mix;
  if (argc == 2 && (std::string_view{argv[1]} == "-h" || std::string_view{argv[1]} == "--help")) {
    std::cout << usage_text;
    return 0;
  }
  run_context ctx;
  ctx.rng.seed(std::random_device{}());
  auto opts = parse_options(argc, argv);
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
