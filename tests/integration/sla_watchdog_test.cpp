// The SLA watchdog against a real Prometheus that scrapes a running flightwatch node
// every 200 ms: breaches reach the admin on (fake) Telegram once per excursion, the
// scrape rule is enforced at start and on update, updates are validated (PromQL by
// Prometheus itself), and a Prometheus outage is counted and survived.

#include "config/sla_document.hpp"
#include "tests/fakes/fake_telegram.hpp"
#include "tests/integration/node_process.hpp"
#include "tests/support/net.hpp"
#include "tests/support/prometheus_server.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace {

using namespace std::chrono_literals;
using fw::test::fake_telegram;
using fw::test::http_get;
using fw::test::http_request;
using fw::test::node_process;
using fw::test::prometheus_server;
using fw::test::wait_until;
using json = nlohmann::json;

constexpr const char* admin = "admin@example.com";
constexpr std::int64_t admin_chat = 4242;

/// `up` of the node's scrape target: 1 while Prometheus reaches the node.
constexpr const char* up_query = "sum(up{job='flightwatch'})";

json metric(const std::string& name, double min, double max, const std::string& query = up_query) {
  return {{"name", name}, {"type", "gauge"}, {"query", query}, {"min", min}, {"max", max}};
}

class sla_watchdog : public ::testing::Test {
protected:
  /// Starts Prometheus scraping the node's port, then the node with an SLA file of
  /// `metrics` (t_check as given) and an admin with a linked Telegram chat.
  void start(const json& metrics, const std::string& t_check = "1s") {
    const auto port = fw::test::free_port();
    prom = std::make_unique<prometheus_server>(
      std::vector<std::string>{"127.0.0.1:" + std::to_string(port)}, 200ms);
    const auto sla_file = (dir.path() / "sla.yaml").string();
    std::ofstream{sla_file} << "metrics:\n"
                            << metrics_yaml(metrics) << "settings:\n  t_check: " << t_check
                            << "\n  prometheus_url: \"" << prom->url() << "\"\n";
    node = std::make_unique<node_process>(node_process::options{
      {"--roles", "gateway,user-manager,notifier,sla-watchdog"},
      {{"FW_SLA_CONFIG_FILE", sla_file},
       {"FW_NOTIFIER_ADMINS", admin},
       {"FW_TELEGRAM_API_URL", telegram.url()},
       {"FW_TELEGRAM_BOT_TOKEN", telegram.token()},
       {"FW_TELEGRAM_POLL_TIMEOUT", "1s"}},
      true,
      port});
    ASSERT_EQ(post("/user-manager/users",
                   json{{"email", admin}, {"first_name", "Ada"}, {"last_name", "Admin"}},
                   {"Idempotency-Key: admin"})
                .status,
              201);
    ASSERT_EQ(
      post("/user-manager/users/telegram", json{{"email", admin}, {"telegram_chat_id", admin_chat}})
        .status,
      200);
  }

  static std::string metrics_yaml(const json& metrics) {
    std::string out;
    for (const auto& m : metrics)
      out += "  - name: \"" + m["name"].get<std::string>() + "\"\n    type: gauge\n    query: \""
             + m["query"].get<std::string>() + "\"\n    min: " + m["min"].dump()
             + "\n    max: " + m["max"].dump() + "\n";
    return out;
  }

  fw::test::http_result post(const std::string& path, const json& body,
                             std::vector<std::string> headers = {}) {
    return http_request("POST", node->url() + path, body.dump(), headers);
  }

  json get_json(const std::string& path) {
    auto r = http_get(node->url() + path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  json stats() {
    return get_json("/sla-detector/breach/stats");
  }

  std::int64_t breaches(const std::string& name, const std::string& type) {
    auto s = stats();
    auto m = s["metrics"][name];
    return m.is_object() ? m[type].get<std::int64_t>() : -1;
  }

  std::int64_t checks() {
    return stats()["checks"].get<std::int64_t>();
  }

  /// Waits until `n` more checks than now have run.
  bool wait_checks(std::int64_t n, std::chrono::milliseconds timeout = 20s) {
    const auto target = checks() + n;
    return wait_until([&] { return checks() >= target; }, timeout, 100ms);
  }

  std::vector<fake_telegram::sent_message> breach_messages(const std::string& name) {
    std::vector<fake_telegram::sent_message> out;
    for (auto& m : telegram.messages_to(admin_chat))
      if (m.plain_text.find("SLA breach: " + name + " ") != std::string::npos)
        out.push_back(m);
    return out;
  }

  json update(const std::vector<json>& metrics, const json& settings = json::object()) {
    json body = json::object();
    body["metrics"] = metrics;
    if (!settings.empty())
      body["settings"] = settings;
    auto r = post("/sla-detector/sla/config", body);
    auto j = json::parse(r.body, nullptr, false);
    j["status"] = r.status;
    return j;
  }

  fw::test::temp_dir dir{"fw-sla-test"};
  fake_telegram telegram;
  std::unique_ptr<prometheus_server> prom;
  std::unique_ptr<node_process> node;
};

TEST_F(sla_watchdog, a_metric_out_of_range_breaches_once_per_excursion_and_reaches_the_admin) {
  start(json::array({metric("node_up_forced_high", 0, 0.5), metric("node_up_in_range", 0, 10)}));
  ASSERT_TRUE(wait_until([&] { return breaches("node_up_forced_high", "high") == 1; }, 30s, 100ms))
    << stats().dump() << node->process().output();

  // The event as the notifier received it: the documented fields, sent to the admin.
  ASSERT_TRUE(wait_until([&] { return breach_messages("node_up_forced_high").size() == 1; }, 10s));
  auto event = stats()["metrics"]["node_up_forced_high"]["last_breach"];
  EXPECT_EQ(event["metric"], "node_up_forced_high");
  EXPECT_EQ(event["query"], up_query);
  EXPECT_EQ(event["observed_value"], 1.0);
  EXPECT_EQ(event["threshold_violated"], 0.5);
  EXPECT_EQ(event["breach_type"], "high");
  EXPECT_EQ(event["violations_count"], 3);
  EXPECT_GT(event["timestamp"].get<double>(), 1.7e9);
  EXPECT_TRUE(event["event_id"].is_string());
  EXPECT_NE(breach_messages("node_up_forced_high")[0].plain_text.find("above the maximum 0.5"),
            std::string::npos);

  // Still out of range for many more samples: the same excursion, no second event.
  ASSERT_TRUE(wait_checks(7));
  EXPECT_EQ(breaches("node_up_forced_high", "high"), 1);
  EXPECT_EQ(breach_messages("node_up_forced_high").size(), 1u);

  // The in-range metric never breached; both were sampled at 1.
  auto s = stats();
  EXPECT_EQ(s["metrics"]["node_up_in_range"]["total"], 0) << s.dump();
  EXPECT_EQ(s["metrics"]["node_up_in_range"]["last_value"], 1.0);
  EXPECT_TRUE(breach_messages("node_up_in_range").empty());

  // Back in range (an update), then out again: a second excursion, a second event.
  ASSERT_EQ(update({metric("node_up_forced_high", 0, 10)})["status"], 200);
  ASSERT_TRUE(wait_checks(2));
  ASSERT_EQ(update({metric("node_up_forced_high", 0, 0.5)})["status"], 200);
  ASSERT_TRUE(wait_until([&] { return breaches("node_up_forced_high", "high") == 2; }, 30s, 100ms));
  ASSERT_TRUE(wait_until([&] { return breach_messages("node_up_forced_high").size() == 2; }, 10s));

  // The watchdog's own series.
  auto metrics = http_get(node->url() + "/sla-detector/metrics").body;
  EXPECT_NE(metrics.find("sla_breaches_total{breach_type=\"high\",metric=\"node_up_forced_high\""),
            std::string::npos)
    << metrics;
  EXPECT_NE(metrics.find("sla_checks_total{"), std::string::npos);
  EXPECT_NE(metrics.find("sla_observed_value{metric=\"node_up_forced_high\""), std::string::npos);
}

TEST_F(sla_watchdog, a_low_value_breaches_low) {
  start(json::array({metric("node_up_forced_low", 2, 10)}));
  ASSERT_TRUE(wait_until([&] { return breaches("node_up_forced_low", "low") == 1; }, 30s, 100ms))
    << stats().dump();
  auto event = stats()["metrics"]["node_up_forced_low"]["last_breach"];
  EXPECT_EQ(event["breach_type"], "low");
  EXPECT_EQ(event["threshold_violated"], 2.0);
  ASSERT_TRUE(wait_until([&] { return breach_messages("node_up_forced_low").size() == 1; }, 10s));
  EXPECT_NE(breach_messages("node_up_forced_low")[0].plain_text.find("below the minimum 2"),
            std::string::npos);
}

TEST_F(sla_watchdog, t_check_below_five_scrape_intervals_is_raised_at_start_and_refused_on_update) {
  start(json::array({metric("node_up", 0, 10)}), "300ms");
  // Raised to 5 x 200 ms once the watchdog has read Prometheus' configuration.
  ASSERT_TRUE(wait_until(
    [&] { return get_json("/sla-detector/sla/config")["settings"]["t_check"] == 1; }, 10s))
    << get_json("/sla-detector/sla/config").dump();
  auto config = get_json("/sla-detector/sla/config");
  EXPECT_EQ(config["settings"]["t_scrape"], 0.2);
  EXPECT_EQ(config["settings"]["prometheus_url"], prom->url());
  EXPECT_EQ(config["settings"]["kafka_topic"], "sla_breach");
  EXPECT_EQ(config["metrics"][0]["query"], up_query);
  EXPECT_NE(node->process().output().find("t_check 300ms raised to 1s"), std::string::npos);

  auto r = update({metric("node_up", 0, 10)}, {{"t_check", 0.5}});
  EXPECT_EQ(r["status"], 400);
  EXPECT_EQ(r["error"], "Update failed");
  EXPECT_NE(r["message"].get<std::string>().find("settings.t_check"), std::string::npos) << r;
  EXPECT_EQ(get_json("/sla-detector/sla/config")["settings"]["t_check"], 1); // unchanged

  r = update({metric("node_up", 0, 10)}, {{"t_check", 2}});
  EXPECT_EQ(r["status"], 200) << r;
  EXPECT_EQ(get_json("/sla-detector/sla/config")["settings"]["t_check"], 2);

  // The document GET answers (with its read-only t_scrape) is one POST takes back.
  auto read_back = get_json("/sla-detector/sla/config");
  auto posted = post("/sla-detector/sla/config", read_back);
  EXPECT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(get_json("/sla-detector/sla/config"), read_back);
}

TEST_F(sla_watchdog, updates_are_validated_and_applied_without_restart) {
  start(json::array({metric("node_up", 0, 10)}));

  auto r = update({metric("broken", 0, 1, "sum(up{job='flightwatch'}")});
  EXPECT_EQ(r["status"], 400);
  EXPECT_EQ(r["error"], "Update failed");
  EXPECT_NE(r["message"].get<std::string>().find("metrics[0].query: Prometheus rejects it"),
            std::string::npos)
    << r;

  auto counter = metric("requests", 0, 1);
  counter["type"] = "counter";
  r = update({counter});
  EXPECT_EQ(r["status"], 400);
  EXPECT_NE(r["message"].get<std::string>().find("metrics[0].type: only gauge"), std::string::npos);

  r = update({metric("inverted", 5, 1)});
  EXPECT_EQ(r["status"], 400);
  EXPECT_NE(r["message"].get<std::string>().find("metrics[0].min"), std::string::npos);

  r = update({metric("twice", 0, 1), metric("twice", 0, 2)});
  EXPECT_EQ(r["status"], 400);

  auto raw = http_request("POST", node->url() + "/sla-detector/sla/config", "{not json");
  EXPECT_EQ(raw.status, 400);
  EXPECT_EQ(json::parse(raw.body)["error"], "Update failed");
  EXPECT_EQ(post("/sla-detector/sla/config", json{{"settings", {{"t_check", 5}}}}).status, 400);

  // Nothing of that was applied.
  auto config = get_json("/sla-detector/sla/config");
  ASSERT_EQ(config["metrics"].size(), 1u);
  EXPECT_EQ(config["metrics"][0]["name"], "node_up");

  // The seed's collection body shape (its Kafka settings are the node's business).
  r = update({metric("scrape_samples", 0, 100000, "sum(scrape_samples_scraped)")},
             {{"t_check", 1}, {"kafka_bootstrap_servers", "kafka:9092"},
              {"kafka_topic", "sla_breach"}});
  ASSERT_EQ(r["status"], 200) << r;
  EXPECT_EQ(r["message"], "SLA configuration updated");
  EXPECT_EQ(r["notes"].size(), 1u);
  config = get_json("/sla-detector/sla/config");
  ASSERT_EQ(config["metrics"].size(), 1u);
  EXPECT_EQ(config["metrics"][0]["name"], "scrape_samples");
  ASSERT_TRUE(wait_until(
    [&] { return stats()["metrics"]["scrape_samples"]["last_value"].is_number(); }, 10s))
    << stats().dump();
  EXPECT_GT(stats()["metrics"]["scrape_samples"]["last_value"].get<double>(), 10);
  // The removed metric keeps its counts in the stats, marked as no longer watched.
  EXPECT_EQ(stats()["metrics"]["node_up"]["watched"], false);

  // Prometheus accepts every query of the shipped config/sla.yaml.
  auto shipped = fw::load_sla_file(std::string{FW_SOURCE_DIR} + "/config/sla.yaml");
  ASSERT_TRUE(shipped.value) << shipped.error;
  auto shipped_metrics = fw::sla_to_json(*shipped.value)["metrics"];
  r = update({shipped_metrics.begin(), shipped_metrics.end()});
  EXPECT_EQ(r["status"], 200) << r;
  EXPECT_EQ(get_json("/sla-detector/sla/config")["metrics"], shipped_metrics);
}

TEST_F(sla_watchdog, prometheus_down_counts_query_failures_and_recovers) {
  start(json::array({metric("node_up", 0, 10)}));
  ASSERT_TRUE(wait_until([&] { return stats()["metrics"]["node_up"]["last_value"] == 1.0; }, 10s));

  // (Failures before this: samples asked for before Prometheus' first scrape.)
  const auto failures_before = stats()["metrics"]["node_up"]["query_failures"].get<int>();
  prom->stop();
  ASSERT_TRUE(wait_until(
    [&] {
      return stats()["metrics"]["node_up"]["query_failures"].get<int>() >= failures_before + 2;
    },
    15s, 100ms));
  auto s = stats();
  EXPECT_NE(s["metrics"]["node_up"]["last_failure"].get<std::string>().find("did not answer"),
            std::string::npos)
    << s;
  EXPECT_EQ(s["metrics"]["node_up"]["total"], 0); // a failure is not a sample
  auto health = http_get(node->url() + "/sla-detector/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find("did not answer"), std::string::npos) << health.body;
  auto metrics = http_get(node->url() + "/metrics").body;
  EXPECT_NE(metrics.find("sla_query_failures_total{metric=\"node_up\""), std::string::npos);
  // Updates need Prometheus' verdict meanwhile.
  auto r = update({metric("node_up", 0, 11)});
  EXPECT_EQ(r["status"], 503) << r;
  EXPECT_EQ(get_json("/sla-detector/sla/config")["metrics"][0]["max"], 10.0) << "not applied";
  // Except the document in force posted back (a reconciler re-applying it): it changes
  // nothing, so it needs none.
  auto in_force = get_json("/sla-detector/sla/config");
  auto posted = post("/sla-detector/sla/config", in_force);
  ASSERT_EQ(posted.status, 200) << posted.body;
  auto reply = json::parse(posted.body);
  EXPECT_EQ(reply["message"], "SLA configuration updated");
  EXPECT_EQ(reply["config"], in_force);
  EXPECT_EQ(reply["notes"], json::array({"the document is the one in force: nothing was changed"}));

  prom->start_again();
  ASSERT_TRUE(wait_until(
    [&] { return stats()["metrics"]["node_up"]["last_failure"].is_null(); }, 20s, 100ms))
    << stats().dump();
  EXPECT_TRUE(node->process().running());
  EXPECT_EQ(http_get(node->url() + "/sla-detector/health").body.find("did not answer"),
            std::string::npos);
  EXPECT_EQ(stats()["metrics"]["node_up"]["total"], 0);
}

} // namespace
