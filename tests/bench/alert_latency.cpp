// Alert latency: from the fake OpenSky's reply to the fake Telegram receiving sendMessage.
// See docs/performance.md, "Alert latency: OpenSky reply to Telegram message".
//
//   alert_latency [--mode a|b|both] [--users N] [--flights K] [--rounds R] [--interval D]
//
// (a) one flightwatch node with every role (SQLite); (b) node A (gateway, user-manager,
// data-collector), node B (alert-evaluator), node C (notifier, user-manager) joined by the
// Kafka test broker, one PostgreSQL. N users, each with a linked chat and an interest with
// high_value 2 in its own airport. Users and interests are created while OpenSky has no
// flights; then every airport gets K arrivals (lastSeen a minute ago), and the next
// periodic collection raises one alert per airport. Sample per airport: arrival time of its
// user's sendMessage at the fake Telegram minus the time the fake OpenSky answered the
// airport's departures request, the second and last call of that collection (steady clock,
// both fakes run in this process). In (b) the samples are also split into stages by the
// Kafka records' timestamps (set when a node produces them): reply to the to-alert-system
// record (node A), to the to-notifier record (node B), to the message (node C).

#include "tests/fakes/fake_opensky.hpp"
#include "tests/fakes/fake_telegram.hpp"
#include "tests/integration/node_process.hpp"
#include "tests/support/kafka_broker.hpp"
#include "tests/support/net.hpp"
#include "tests/support/postgres_server.hpp"

#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using fw::test::fake_flight;
using fw::test::fake_opensky;
using fw::test::fake_telegram;
using fw::test::http_request;
using fw::test::node_process;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using env_list = std::vector<std::pair<std::string, std::string>>;

std::int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

struct options {
  std::string mode = "both";
  int users = 200;
  int flights = 5;
  int rounds = 1;
  std::string interval = "5s";
  std::string baseline_bin; // another build, run alternately with this one
};

/// Flights endpoints that replace the fake's own (same wire format, to_opensky_json), so
/// the reply time of every answer can be recorded: the time the handler returns, right
/// before the scripted server writes the answer.
struct opensky_script {
  std::mutex m;
  bool busy = false;
  std::map<std::string, std::vector<fake_flight>> arrivals; // served once busy
  std::map<std::string, std::vector<fake_flight>> always;   // served from the start
  std::set<std::string> armed;                              // got its flights (arrivals)
  std::map<std::string, clock_type::time_point> replied;    // then its departures answer

  static fw::test::scripted_http_server::response not_found(const std::string& path) {
    return {404, json{{"timestamp", unix_now() * 1000},
                      {"status", 404},
                      {"error", "Not Found"},
                      {"message", "No flights found for the given time interval"},
                      {"path", path}}
                   .dump()};
  }

  void install(fake_opensky& fake) {
    fake.server().on("GET", "/api/flights/arrival", [this](const auto& req) {
      auto it = req.query.find("airport");
      const std::string airport = it == req.query.end() ? "" : it->second;
      std::lock_guard lock{m};
      if (auto a = always.find(airport); a != always.end())
        return fw::test::scripted_http_server::response{200, fw::test::to_opensky_json(a->second)};
      if (auto a = arrivals.find(airport); busy && a != arrivals.end()) {
        armed.insert(airport);
        return fw::test::scripted_http_server::response{200, fw::test::to_opensky_json(a->second)};
      }
      return not_found(req.path);
    });
    fake.server().on("GET", "/api/flights/departure", [this](const auto& req) {
      auto it = req.query.find("airport");
      const std::string airport = it == req.query.end() ? "" : it->second;
      auto out = not_found(req.path);
      std::lock_guard lock{m};
      if (armed.count(airport) && !replied.count(airport))
        replied.emplace(airport, clock_type::now());
      return out;
    });
  }
};

std::vector<fake_flight> flights_at(const std::string& airport, int n) {
  std::vector<fake_flight> out;
  const auto now = unix_now();
  for (int i = 0; i < n; ++i) {
    char icao[16];
    std::snprintf(icao, sizeof icao, "%06x",
                  static_cast<unsigned>(std::hash<std::string>{}(airport) % 0xfffff) * 16
                    + static_cast<unsigned>(i % 16));
    out.push_back({std::string{icao}.substr(0, 6), now - 3600, now - 60, std::string{"EDDF"}, airport,
                   "DLH" + std::to_string(i)});
  }
  return out;
}

/// XAAA, XAAB, ...: codes no real airport uses, distinct from EDDF and the warm-up XWRM.
std::string airport_code(int i) {
  std::string s = "XAAA";
  s[3] = static_cast<char>('A' + i % 26);
  s[2] = static_cast<char>('A' + (i / 26) % 26);
  s[1] = static_cast<char>('A' + (i / 676) % 26);
  return s;
}

void must(bool ok, const std::string& what) {
  if (!ok)
    throw std::runtime_error(what);
}

void user_watching(const std::string& base, int idx, std::int64_t chat,
                   const std::string& airport) {
  const auto email = "user" + std::to_string(idx) + "@x.org";
  auto r = http_request("POST", base + "/user-manager/users",
                        json{{"email", email}, {"first_name", "A"}, {"last_name", "B"}}.dump(),
                        {"Idempotency-Key: u-" + email});
  must(r.status == 201, "create user " + email + ": " + std::to_string(r.status) + " " + r.body);
  r = http_request("POST", base + "/user-manager/users/telegram",
                   json{{"email", email}, {"telegram_chat_id", chat}}.dump());
  must(r.status == 200, "link chat " + email + ": " + std::to_string(r.status) + " " + r.body);
  r = http_request("POST", base + "/data-collector/interests",
                   json{{"email", email}, {"airport_code", airport}, {"high_value", 2}}.dump());
  must(r.status == 201, "interest " + email + ": " + std::to_string(r.status) + " " + r.body);
}

struct stats {
  std::vector<double> ms;
  double cycle_ms = 0; // first measured OpenSky reply to last message
  // (b): reply to to-alert-system record, to to-notifier record, to message
  std::vector<double> collect_ms, evaluate_ms, notify_ms;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty())
    return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::max<std::size_t>(rank, 1) - 1];
}

/// Reads the records of the test broker's topics after a run (this benchmark does not link
/// librdkafka, so it is loaded at run time): when each was produced, by key.
class topic_reader {
public:
  using when = std::chrono::system_clock::time_point;

  /// The records' timestamps per key of `topic` (4 partitions, as kafka_broker makes them).
  static std::map<std::string, std::vector<when>> read(const std::string& bootstrap,
                                                       const std::string& topic) {
    topic_reader r;
    return r.read_all(bootstrap, topic);
  }

private:
  void* lib_ = dlopen("librdkafka.so.1", RTLD_NOW);
  ~topic_reader() {
    if (lib_)
      dlclose(lib_);
  }
  template <class F>
  F* fn(const char* name) {
    auto* f = lib_ ? reinterpret_cast<F*>(dlsym(lib_, name)) : nullptr;
    must(f != nullptr, std::string{"librdkafka: "} + name);
    return f;
  }
#define FW_RD(name) auto* name##_ = fn<decltype(name)>(#name)

  std::map<std::string, std::vector<when>> read_all(const std::string& bootstrap,
                                                    const std::string& topic) {
    FW_RD(rd_kafka_conf_new);
    FW_RD(rd_kafka_conf_set);
    FW_RD(rd_kafka_new);
    FW_RD(rd_kafka_destroy);
    FW_RD(rd_kafka_topic_partition_list_new);
    FW_RD(rd_kafka_topic_partition_list_add);
    FW_RD(rd_kafka_topic_partition_list_destroy);
    FW_RD(rd_kafka_assign);
    FW_RD(rd_kafka_consumer_poll);
    FW_RD(rd_kafka_message_timestamp);
    FW_RD(rd_kafka_message_destroy);
    char err[512];
    auto* conf = rd_kafka_conf_new_();
    for (auto [k, v] : {std::pair{"bootstrap.servers", bootstrap.c_str()},
                        {"group.id", "alert-latency-reader"},
                        {"enable.auto.commit", "false"},
                        {"enable.partition.eof", "true"}})
      must(rd_kafka_conf_set_(conf, k, v, err, sizeof err) == RD_KAFKA_CONF_OK, err);
    auto* rk = rd_kafka_new_(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    must(rk != nullptr, err);
    constexpr int partitions = 4;
    auto* list = rd_kafka_topic_partition_list_new_(partitions);
    for (int p = 0; p < partitions; ++p)
      rd_kafka_topic_partition_list_add_(list, topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign_(rk, list);
    rd_kafka_topic_partition_list_destroy_(list);
    std::map<std::string, std::vector<when>> out;
    std::set<std::int32_t> at_end;
    const auto deadline = clock_type::now() + 10s;
    while (static_cast<int>(at_end.size()) < partitions && clock_type::now() < deadline) {
      auto* m = rd_kafka_consumer_poll_(rk, 100);
      if (!m)
        continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        at_end.insert(m->partition);
      } else if (auto ms = rd_kafka_message_timestamp_(m, nullptr); !m->err && m->key && ms >= 0) {
        std::string key{static_cast<const char*>(m->key), m->key_len};
        out[key].push_back(when{std::chrono::milliseconds{ms}});
      }
      rd_kafka_message_destroy_(m);
    }
    rd_kafka_destroy_(rk);
    if (static_cast<int>(at_end.size()) < partitions)
      std::cerr << "reading " << topic << ": not every partition read to its end\n";
    return out;
  }
#undef FW_RD
};

stats run_once(const std::string& mode, const options& opt, const std::string& binary) {
  fake_opensky opensky;
  fake_telegram telegram;
  opensky_script script;
  script.install(opensky);
  const std::string warm_airport = "XWRM";
  const std::int64_t warm_chat = 9'000'000'000;
  script.always[warm_airport] = flights_at(warm_airport, opt.flights);
  std::map<std::int64_t, std::string> airport_of;
  for (int i = 0; i < opt.users; ++i) {
    auto code = airport_code(i);
    script.arrivals[code] = flights_at(code, opt.flights);
    airport_of[1'000'000 + i] = code;
  }

  env_list common{{"FW_OPENSKY_BASE_URL", opensky.url()},
                  {"FW_OPENSKY_AUTH_URL", opensky.token_url()},
                  {"FW_COLLECTOR_INTERVAL", opt.interval},
                  {"FW_TELEGRAM_API_URL", telegram.url()},
                  {"FW_TELEGRAM_BOT_TOKEN", telegram.token()},
                  {"FW_TELEGRAM_POLL_TIMEOUT", "1s"},
                  {"FW_TELEGRAM_GLOBAL_PER_SECOND", "100000"},
                  {"FW_TELEGRAM_PER_CHAT_INTERVAL", "1ms"},
                  {"FW_GATEWAY_ACCESS_LOG", "false"}};
  std::unique_ptr<fw::test::postgres_server> pg;
  std::unique_ptr<fw::test::kafka_broker> kafka;
  std::unique_ptr<node_process> a, b, c;
  if (mode == "a") {
    a = std::make_unique<node_process>(node_process::options{{}, common, true, 0, binary});
  } else {
    pg = std::make_unique<fw::test::postgres_server>();
    pg->start();
    kafka = std::make_unique<fw::test::kafka_broker>();
    auto env = [&](const std::string& name) {
      auto e = common;
      e.emplace_back("FW_STORAGE_URL", pg->url());
      e.emplace_back("FW_KAFKA_BROKERS", kafka->bootstrap());
      e.emplace_back("FW_NODE_NAME", name);
      return e;
    };
    a = std::make_unique<node_process>(node_process::options{
      {"--roles", "gateway,user-manager,data-collector"}, env("node-a"), true, 0, binary});
    b = std::make_unique<node_process>(
      node_process::options{{"--roles", "alert-evaluator"}, env("node-b"), false, 0, binary});
    c = std::make_unique<node_process>(node_process::options{
      {"--roles", "notifier,user-manager"}, env("node-c"), false, 0, binary});
    for (auto* n : {b.get(), c.get()})
      must(n->process().wait_for_output("storage: ready", 15s),
           "node did not start:\n" + n->process().output());
  }
  auto dump = [&] {
    std::string out;
    for (auto* n : {a.get(), b.get(), c.get()})
      if (n)
        out += "---\n" + n->process().output().substr(0, 20000);
    return out;
  };

  // Warm-up: one alert end to end (Kafka consumers joined, connections open).
  user_watching(a->url(), -1, warm_chat, warm_airport);
  must(telegram.wait_for_messages(1, 60s), "no warm-up message\n" + dump());
  for (int i = 0; i < opt.users; ++i)
    user_watching(a->url(), i, 1'000'000 + i, airport_code(i));
  std::this_thread::sleep_for(2s); // the urgent collections of the new interests finish
  const auto before = telegram.messages().size();
  {
    std::lock_guard lock{script.m};
    script.busy = true;
  }
  const auto deadline = 60s + std::chrono::seconds{30};
  if (!telegram.wait_for_messages(before + opt.users, deadline))
    std::cerr << "only " << telegram.messages().size() - before << " of " << opt.users
              << " alerts arrived\n";
  std::this_thread::sleep_for(500ms);

  stats out;
  std::map<std::string, std::vector<topic_reader::when>> produced_event, produced_notice;
  if (kafka) {
    try {
      produced_event = topic_reader::read(kafka->bootstrap(), "to-alert-system");
      produced_notice = topic_reader::read(kafka->bootstrap(), "to-notifier");
    } catch (const std::exception& e) {
      std::cerr << "no stages: " << e.what() << "\n";
    }
  }
  // Kafka's timestamps are wall-clock milliseconds; the samples' times are steady.
  const auto wall_offset = std::chrono::system_clock::now().time_since_epoch() -
                           clock_type::now().time_since_epoch();
  auto wall = [&](clock_type::time_point t) {
    return topic_reader::when{std::chrono::duration_cast<std::chrono::system_clock::duration>(
      t.time_since_epoch() + wall_offset)};
  };
  auto ms_between = [](topic_reader::when from, topic_reader::when to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
  };
  std::map<std::int64_t, clock_type::time_point> first_message;
  for (const auto& m : telegram.messages())
    if (airport_of.count(m.chat_id) && !first_message.count(m.chat_id))
      first_message[m.chat_id] = m.time;
  std::lock_guard lock{script.m};
  clock_type::time_point first_reply = clock_type::time_point::max(), last_message{};
  for (const auto& [chat, t] : first_message) {
    auto r = script.replied.find(airport_of[chat]);
    if (r == script.replied.end()) {
      std::cerr << "message for " << airport_of[chat] << " without a recorded reply\n";
      continue;
    }
    out.ms.push_back(std::chrono::duration<double, std::milli>(t - r->second).count());
    const auto email = "user" + std::to_string(chat - 1'000'000) + "@x.org";
    // The user's one notice, and the event it came from: the last one before it (the
    // collections before the flights also published events, below the threshold).
    auto notices = produced_notice.find(email);
    auto events = produced_event.find(email);
    if (notices != produced_notice.end() && events != produced_event.end()) {
      auto notice = *std::min_element(notices->second.begin(), notices->second.end());
      std::optional<topic_reader::when> event;
      for (auto e : events->second)
        if (e <= notice && (!event || e > *event))
          event = e;
      if (event) {
        out.collect_ms.push_back(ms_between(wall(r->second), *event));
        out.evaluate_ms.push_back(ms_between(*event, notice));
        out.notify_ms.push_back(ms_between(notice, wall(t)));
      }
    }
    first_reply = std::min(first_reply, r->second);
    last_message = std::max(last_message, t);
  }
  if (!out.ms.empty())
    out.cycle_ms = std::chrono::duration<double, std::milli>(last_message - first_reply).count();
  return out;
}

void report(const std::string& label, const stats& s) {
  std::printf("| %s | %zu | %.1f | %.1f | %.1f | %.1f | %.0f |\n", label.c_str(), s.ms.size(),
              percentile(s.ms, 50), percentile(s.ms, 95), percentile(s.ms, 99),
              s.ms.empty() ? 0.0 : *std::max_element(s.ms.begin(), s.ms.end()), s.cycle_ms);
  std::fflush(stdout);
}

/// (b) only: p50 / p99 of each stage, from the Kafka records' timestamps (1 ms resolution).
void report_stages(const std::string& label, const stats& s) {
  if (s.collect_ms.empty())
    return;
  auto pair = [](const std::vector<double>& v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f / %.0f", percentile(v, 50), percentile(v, 99));
    return std::string{buf};
  };
  std::printf("#   %s stages, p50 / p99 ms (%zu samples): reply to to-alert-system record %s; "
              "to to-notifier record %s; to message %s\n",
              label.c_str(), s.collect_ms.size(), pair(s.collect_ms).c_str(),
              pair(s.evaluate_ms).c_str(), pair(s.notify_ms).c_str());
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--mode")
      opt.mode = v;
    else if (k == "--users")
      opt.users = std::stoi(v);
    else if (k == "--flights")
      opt.flights = std::stoi(v);
    else if (k == "--rounds")
      opt.rounds = std::stoi(v);
    else if (k == "--interval")
      opt.interval = v;
    else if (k == "--baseline-bin")
      opt.baseline_bin = v;
    else {
      std::cerr << "usage: alert_latency [--mode a|b|both] [--users N] [--flights K] "
                   "[--rounds R] [--interval 5s] [--baseline-bin PATH]\n";
      return 2;
    }
  }
  std::printf("# users %d, flights per airport %d, collector.interval %s, rounds %d\n",
              opt.users, opt.flights, opt.interval.c_str(), opt.rounds);
  if (!opt.baseline_bin.empty())
    std::printf("# baseline: %s, its rounds alternate with this build's\n",
                opt.baseline_bin.c_str());
  std::printf("| setup | alerts | p50 ms | p95 ms | p99 ms | max ms | first reply to last "
              "message ms |\n|---|---:|---:|---:|---:|---:|---:|\n");
  std::fflush(stdout);
  std::vector<std::string> modes;
  if (opt.mode == "both")
    modes = {"a", "b"};
  else
    modes = {opt.mode};
  int rc = 0;
  std::vector<std::pair<std::string, stats>> stage_rounds;
  // With a baseline, each round runs the baseline, then this build.
  std::vector<std::pair<std::string, std::string>> builds{{"", ""}};
  if (!opt.baseline_bin.empty())
    builds.insert(builds.begin(), {"baseline, ", opt.baseline_bin});
  for (const auto& mode : modes) {
    const std::string setup = mode == "a" ? "(a) one node" : "(b) 3 processes, Kafka";
    std::vector<stats> all(builds.size());
    for (int r = 0; r < opt.rounds; ++r)
      for (std::size_t v = 0; v < builds.size(); ++v) {
        const auto& [prefix, binary] = builds[v];
        try {
          auto s = run_once(mode, opt, binary);
          const auto label = setup + ", " + prefix + "round " + std::to_string(r + 1);
          report(label, s);
          stage_rounds.emplace_back(label, s);
          all[v].ms.insert(all[v].ms.end(), s.ms.begin(), s.ms.end());
          for (auto [to, from] : {std::pair{&all[v].collect_ms, &s.collect_ms},
                                  {&all[v].evaluate_ms, &s.evaluate_ms},
                                  {&all[v].notify_ms, &s.notify_ms}})
            to->insert(to->end(), from->begin(), from->end());
          all[v].cycle_ms = std::max(all[v].cycle_ms, s.cycle_ms);
          if (static_cast<int>(s.ms.size()) != opt.users)
            rc = 1;
        } catch (const std::exception& e) {
          std::cerr << "mode " << mode << " failed: " << e.what() << "\n";
          rc = 1;
        }
      }
    if (opt.rounds > 1)
      for (std::size_t v = 0; v < builds.size(); ++v) {
        const auto label = setup + ", " + builds[v].first + "all rounds";
        report(label, all[v]);
        stage_rounds.emplace_back(label, all[v]);
      }
  }
  // After the table, so that it stays one piece.
  for (const auto& [label, s] : stage_rounds)
    report_stages(label, s);
  return rc;
}
