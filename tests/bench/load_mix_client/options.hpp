#pragma once
// load_mix_client's command line: the options of a run, parsed and checked.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fw::load_mix {

inline constexpr std::string_view usage_text =
    "usage: load_mix_client --host http://HOST:PORT [-u USERS] [-r SPAWN_RATE] [-d SECONDS]\n"
    "           [--think MIN-MAX|0] [--run ID] [--csv PREFIX] [--timeout SECONDS] [--slow MS]\n"
    "Runs tests/bench/load_mix.py's scenario (defaults: -u 100 -r 10 -d 60 --think 1-2\n"
    "--timeout 10, a random run id); --csv writes Locust's PREFIX_stats.csv,\n"
    "PREFIX_failures.csv and PREFIX_stats_history.csv; --slow lists each request that took\n"
    "MS ms or more on stderr. Exit status 0 without failures,\n"
    "1 with failures, 2 for bad arguments.\n";

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

/// The options, or nullopt after printing why they are not valid.
std::optional<options> parse_options(int argc, char** argv);

} // namespace fw::load_mix
