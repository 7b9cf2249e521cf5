// fw-fake-opensky: a fake OpenSky Network REST API with generated, plausible
// traffic, for the offline demo.
//
//   fw-fake-opensky [--port 8081] [--airports LICC,LIRF,EDDF] [--seed 1]
//                   [--history-days 7] [--client-id ID --client-secret SECRET]
//                   [--token-lifetime 1800]
//
// Every listed airport has traffic from (start - history days) on, and more
// appears as time passes; the same request always returns the same flights.
// Stops on SIGINT / SIGTERM.

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fakes/fake_opensky.hpp"

namespace {

void usage(std::ostream& out) {
  out << "usage: fw-fake-opensky [--port N] [--airports ICAO,ICAO,...] [--seed N]\n"
         "                       [--history-days N] [--client-id ID --client-secret SECRET]\n"
         "                       [--token-lifetime SECONDS]\n"
         "  --port            TCP port on 127.0.0.1 (default 8081; 0 picks a free one)\n"
         "  --airports        airports with traffic (default: a set of European hubs and\n"
         "                    Italian airports)\n"
         "  --seed            traffic seed (default 1): same seed, same flights\n"
         "  --history-days    traffic exists from this many days before start (default 7)\n"
         "  --client-id/--client-secret\n"
         "                    require these OAuth2 client credentials (default: anyone\n"
         "                    gets a token, anonymous calls are allowed)\n"
         "  --token-lifetime  expires_in of issued tokens (default 1800)\n";
}

[[noreturn]] void bad(const std::string& why) {
  std::cerr << "fw-fake-opensky: " << why << "\n";
  usage(std::cerr);
  std::exit(2);
}

long long number(const std::string& flag, const std::string& value, long long lo,
                 long long hi) {
  try {
    std::size_t used = 0;
    auto v = std::stoll(value, &used);
    if (used != value.size() || v < lo || v > hi) throw std::out_of_range{flag};
    return v;
  } catch (const std::exception&) {
    bad(flag + ": expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
        "], got '" + value + "'");
  }
}

}  // namespace

int main(int argc, char** argv) {
  long long port = 8081;
  std::vector<std::string> airports;
  unsigned long long seed = 1;
  long long history_days = 7;
  std::string client_id, client_secret;
  long long token_lifetime = 1800;

  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(std::cout);
      return 0;
    }
    if (i + 1 >= argc) bad("missing value after " + arg);
    std::string value = argv[++i];
    if (arg == "--port") {
      port = number(arg, value, 0, 65535);
    } else if (arg == "--airports") {
      std::stringstream ss{value};
      for (std::string code; std::getline(ss, code, ',');) {
        if (code.size() != 4) bad("--airports: '" + code + "' is not a 4-letter ICAO code");
        airports.push_back(code);
      }
    } else if (arg == "--seed") {
      seed = static_cast<unsigned long long>(number(arg, value, 0, 1LL << 62));
    } else if (arg == "--history-days") {
      history_days = number(arg, value, 0, 365);
    } else if (arg == "--client-id") {
      client_id = value;
    } else if (arg == "--client-secret") {
      client_secret = value;
    } else if (arg == "--token-lifetime") {
      token_lifetime = number(arg, value, 1, 7 * 24 * 3600);
    } else {
      bad("unknown option " + arg);
    }
  }
  if (client_id.empty() != client_secret.empty())
    bad("--client-id and --client-secret go together");
  if (airports.empty()) airports = fw::test::traffic_generator::default_airports();

  // Block the stop signals before any thread starts (threads inherit the mask),
  // then wait for them here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    auto generator = std::make_shared<fw::test::traffic_generator>(
        airports, seed, now - history_days * 24 * 3600);
    fw::test::fake_opensky fake{static_cast<std::uint16_t>(port)};
    fake.set_generator(generator);
    fake.set_token_lifetime(std::chrono::seconds{token_lifetime});
    if (!client_id.empty()) fake.require_credentials(client_id, client_secret);

    std::cout << "fw-fake-opensky listening on 127.0.0.1:" << fake.port() << "\n"
              << "  base url:  " << fake.url() << "\n"
              << "  token url: " << fake.token_url() << "\n"
              << "  airports:  ";
    for (std::size_t i = 0; i < generator->airports().size(); ++i) {
      const auto& a = generator->airports()[i];
      std::cout << (i ? ", " : "") << a << " (~" << generator->daily_movements(a) << "/day)";
    }
    std::cout << "\n  seed " << seed << ", traffic since " << generator->available_from()
              << " (unix), " << (client_id.empty() ? "any client" : "client " + client_id)
              << "\n"
              << "Point flightwatch at it:\n"
              << "  FW_OPENSKY_BASE_URL=" << fake.url() << "\n"
              << "  FW_OPENSKY_AUTH_URL=" << fake.token_url() << "\n"
              << "Try: curl '" << fake.url() << "/flights/arrival?airport="
              << generator->airports().front() << "&begin=" << (now - 3 * 3600)
              << "&end=" << now << "'\n"
              << std::flush;

    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cout << "fw-fake-opensky: stopping (signal " << sig << ")" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "fw-fake-opensky: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
