// The SLA watchdog's pure parts: the document (YAML file and JSON body, one validation),
// Prometheus' answers, and the breach rule.

#include "actors/sla_watchdog/prometheus_api.hpp"
#include "actors/sla_watchdog/sla_rules.hpp"
#include "config/settings.hpp"
#include "config/sla_document.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

json body_with(json metric) {
  return {{"metrics", json::array({std::move(metric)})}};
}

json gauge(std::string name = "m", double min = 0, double max = 1) {
  return {{"name", std::move(name)}, {"type", "gauge"}, {"query", "up"}, {"min", min},
          {"max", max}};
}

std::string error_of(const json& body) {
  auto r = fw::sla_from_json(body, fw::sla_document{});
  EXPECT_FALSE(r.value) << body;
  return r.error;
}

TEST(sla_document, the_seed_body_reads_and_renders_back) {
  auto body = json::parse(R"j({
    "metrics": [{"name": "user_manager_avg_response_time", "type": "gauge",
                 "query": "avg(http_request_duration_seconds{service='user_manager'})",
                 "min": 0, "max": 0.0001}],
    "settings": {"t_check": 80, "prometheus_url": "http://prometheus:9090",
                 "kafka_bootstrap_servers": "kafka:9092", "kafka_topic": "sla_breach"}})j");
  auto r = fw::sla_from_json(body, fw::sla_document{});
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->t_check, 80s);
  EXPECT_EQ(r.value->prometheus_url, "http://prometheus:9090");
  ASSERT_EQ(r.value->metrics.size(), 1u);
  EXPECT_EQ(r.value->metrics[0].max, 0.0001);
  auto back = fw::sla_to_json(*r.value);
  EXPECT_EQ(back["settings"]["t_check"], 80);
  EXPECT_EQ(back["metrics"][0]["query"], body["metrics"][0]["query"]);
  EXPECT_EQ(fw::sla_from_json(back, fw::sla_document{}).value, r.value);
}

TEST(sla_document, settings_left_out_keep_the_current_ones) {
  fw::sla_document base;
  base.t_check = 30s;
  base.prometheus_url = "http://prom:9090";
  auto r = fw::sla_from_json(body_with(gauge()), base);
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->t_check, 30s);
  EXPECT_EQ(r.value->prometheus_url, "http://prom:9090");
  r = fw::sla_from_json({{"metrics", json::array()}, {"settings", {{"t_check", 1.5}}}}, base);
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->t_check, 1500ms);
  EXPECT_TRUE(r.value->metrics.empty());
  EXPECT_EQ(fw::sla_to_json(*r.value)["settings"]["t_check"], 1.5);
}

TEST(sla_document, every_invalid_field_is_named) {
  auto with = [](const char* key, json value) {
    auto m = gauge();
    m[key] = std::move(value);
    return error_of(body_with(m));
  };
  EXPECT_EQ(with("type", "counter"),
            "metrics[0].type: only gauge metrics are supported, got 'counter'");
  EXPECT_EQ(with("name", ""), "metrics[0].name: must not be empty");
  EXPECT_EQ(with("query", 5), "metrics[0].query: expected a string");
  EXPECT_EQ(with("min", "0"), "metrics[0].min: expected a number");
  EXPECT_EQ(with("max", -1), "metrics[0].min: must not exceed max");
  EXPECT_EQ(with("extra", 1).rfind("metrics[0].extra: unknown key", 0), 0u);
  auto m = gauge();
  m.erase("query");
  EXPECT_EQ(error_of(body_with(m)), "metrics[0].query: required");
  EXPECT_EQ(error_of({{"metrics", {gauge("a"), gauge("a")}}}),
            "metrics[1].name: 'a' is listed twice");
  EXPECT_EQ(error_of({{"settings", {{"t_check", 5}}}}), "metrics: required");
  EXPECT_EQ(error_of(json::array()), "body: expected a JSON object {metrics, settings}");
  auto settings = [](json s) {
    return error_of({{"metrics", json::array()}, {"settings", std::move(s)}});
  };
  EXPECT_EQ(settings({{"t_check", 0}}).rfind("settings.t_check:", 0), 0u);
  EXPECT_EQ(settings({{"t_check", "soon"}}).rfind("settings.t_check:", 0), 0u);
  EXPECT_EQ(settings({{"prometheus_url", "prometheus:9090"}}).rfind("settings.prometheus_url:", 0),
            0u);
  EXPECT_EQ(settings({{"kafka_topic", "other"}}).rfind("settings.kafka_topic:", 0), 0u);
  EXPECT_EQ(settings({{"t_scrape", "1s"}}).rfind("settings.t_scrape:", 0), 0u);
  for (json scrape : {json(1.5), json(nullptr)}) { // GET's read-only field, posted back
    auto r = fw::sla_from_json({{"metrics", {gauge()}}, {"settings", {{"t_scrape", scrape}}}},
                               fw::sla_document{});
    EXPECT_TRUE(r.value) << r.error;
  }
  EXPECT_EQ(settings({{"other", 1}}).rfind("settings.other: unknown key", 0), 0u);
}

TEST(sla_document, the_shipped_file_loads) {
  auto r = fw::load_sla_file(std::string{FW_SOURCE_DIR} + "/config/sla.yaml");
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_GE(r.value->metrics.size(), 5u);
  EXPECT_EQ(r.value->t_check, 80s);
}

TEST(sla_document, yaml_quoted_numbers_stay_strings_and_errors_name_the_file) {
  fw::test::temp_dir dir{"fw-sla"};
  auto path = (dir.path() / "sla.yaml").string();
  std::ofstream{path} << "metrics:\n  - name: \"123\"\n    type: gauge\n    query: up\n"
                         "    min: 0\n    max: 1.5\nsettings:\n  t_check: 2m\n";
  auto r = fw::load_sla_file(path);
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->metrics[0].name, "123");
  EXPECT_EQ(r.value->metrics[0].max, 1.5);
  EXPECT_EQ(r.value->t_check, 2min);

  std::ofstream{path} << "metrics:\n  - name: x\n    type: histogram\n    query: up\n"
                         "    min: 0\n    max: 1\nsettings:\n  t_check: 60\n";
  EXPECT_EQ(fw::load_sla_file(path).error,
            path + ": metrics[0].type: only gauge metrics are supported, got 'histogram'");
  EXPECT_NE(fw::load_sla_file(path + ".missing").error.find("cannot read"), std::string::npos);
}

TEST(sla_document, the_node_reads_the_file_relative_to_its_config_and_names_the_key) {
  fw::test::temp_dir dir{"fw-sla"};
  std::ofstream{dir.path() / "sla.yaml"}
    << "metrics: []\nsettings:\n  t_check: 60\n  prometheus_url: http://127.0.0.1:9999\n";
  std::ofstream{dir.path() / "flightwatch.yaml"} << "sla:\n  config_file: sla.yaml\n";
  fw::config_sources src;
  src.file = (dir.path() / "flightwatch.yaml").string();
  auto r = fw::load_settings(src);
  ASSERT_TRUE(r.value) << r.error;
  ASSERT_TRUE(r.value->sla.document);
  EXPECT_EQ(r.value->sla.document->prometheus_url, "http://127.0.0.1:9999");

  std::ofstream{dir.path() / "flightwatch.yaml"} << "sla:\n  config_file: nowhere.yaml\n";
  r = fw::load_settings(src);
  EXPECT_FALSE(r.value);
  EXPECT_EQ(r.error.rfind("sla.config_file: ", 0), 0u) << r.error;

  // A node without the watchdog does not read it.
  src.roles_override = "gateway";
  EXPECT_TRUE(fw::load_settings(src).value);
}

TEST(prometheus_api, durations_as_prometheus_writes_them) {
  using fw::sla::parse_prometheus_duration;
  EXPECT_EQ(parse_prometheus_duration("15s"), 15s);
  EXPECT_EQ(parse_prometheus_duration("200ms"), 200ms);
  EXPECT_EQ(parse_prometheus_duration("1m30s"), 90s);
  EXPECT_EQ(parse_prometheus_duration("2h"), 2h);
  EXPECT_EQ(parse_prometheus_duration("1d"), 24h);
  EXPECT_EQ(parse_prometheus_duration("1w"), 168h);
  EXPECT_FALSE(parse_prometheus_duration(""));
  EXPECT_FALSE(parse_prometheus_duration("15"));
  EXPECT_FALSE(parse_prometheus_duration("s"));
  EXPECT_FALSE(parse_prometheus_duration("5x"));
}

TEST(prometheus_api, query_answers) {
  using fw::sla::parse_query_reply;
  auto vector = [](const char* value) {
    return std::string{R"({"status":"success","data":{"resultType":"vector","result":[)"
                       R"({"metric":{"job":"a"},"value":[1700000000.5,")"}
           + value + R"("]},{"metric":{"job":"b"},"value":[1700000000.5,"9"]}]}})";
  };
  EXPECT_EQ(parse_query_reply(200, vector("0.25")), (fw::prometheus_sample{"value", 0.25, ""}));
  EXPECT_EQ(parse_query_reply(200, vector("NaN")).outcome, "nan");
  EXPECT_EQ(parse_query_reply(200, vector("+Inf")).outcome, "nan");
  EXPECT_EQ(parse_query_reply(
              200, R"({"status":"success","data":{"resultType":"scalar","result":[1,"3"]}})"),
            (fw::prometheus_sample{"value", 3, ""}));
  EXPECT_EQ(
    parse_query_reply(200, R"({"status":"success","data":{"resultType":"vector","result":[]}})")
      .outcome,
    "empty");
  EXPECT_EQ(
    parse_query_reply(200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})")
      .outcome,
    "bad_query");
  auto bad = parse_query_reply(
    400, R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed"})");
  EXPECT_EQ(bad.outcome, "bad_query");
  EXPECT_EQ(bad.error, "1:5: parse error: unclosed");
  EXPECT_EQ(
    parse_query_reply(503, R"({"status":"error","errorType":"timeout","error":"query timed out"})")
      .outcome,
    "unreachable");
  EXPECT_EQ(parse_query_reply(502, "<html>Bad Gateway</html>").outcome, "unreachable");
}

TEST(prometheus_api, scrape_interval_from_the_config_endpoint) {
  using fw::sla::parse_scrape_interval;
  auto answer = [](const std::string& yaml) {
    return json{{"status", "success"}, {"data", {{"yaml", yaml}}}}.dump();
  };
  EXPECT_EQ(parse_scrape_interval(answer("global:\n  scrape_interval: 30s\n")), 30s);
  EXPECT_EQ(parse_scrape_interval(answer("global:\n  scrape_interval: 1m30s\n")), 90s);
  EXPECT_EQ(parse_scrape_interval(answer("scrape_configs: []\n")),
            fw::sla::default_scrape_interval);
  EXPECT_FALSE(parse_scrape_interval(answer("global:\n  scrape_interval: often\n")));
  EXPECT_FALSE(parse_scrape_interval("not json"));
}

struct breach_rule : ::testing::Test {
  fw::sla_metric m{"latency", "gauge", "q", 1, 5};
  fw::sla::metric_window w;

  std::vector<std::string> feed(std::initializer_list<double> values) {
    std::vector<std::string> out;
    for (double v : values)
      if (auto b = fw::sla::record_sample(w, m, v))
        out.push_back(b->type + ":" + std::to_string(b->violations));
    return out;
  }
};

TEST_F(breach_rule, three_samples_out_of_range_among_the_last_ten) {
  EXPECT_TRUE(feed({6, 3, 6, 3, 3}).empty());
  EXPECT_EQ(feed({7}), std::vector<std::string>{"high:3"}); // not consecutive: still 3 of 10
  EXPECT_TRUE(w.samples.empty());                            // the history starts afresh
}

TEST_F(breach_rule, old_samples_leave_the_window) {
  // Four lows, but never three among the last ten samples.
  EXPECT_TRUE(feed({0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0}).empty());
  EXPECT_EQ(feed({0}), std::vector<std::string>{"low:3"});
}

TEST_F(breach_rule, one_event_per_excursion) {
  EXPECT_EQ(feed({9, 9, 9}), std::vector<std::string>{"high:3"});
  EXPECT_TRUE(feed({9, 9, 9, 9, 9, 9, 9}).empty()); // still the same excursion
  EXPECT_EQ(feed({0, 0, 0}), std::vector<std::string>{"low:3"}); // the other side is new
  EXPECT_TRUE(feed({3, 9, 9}).empty());
  EXPECT_EQ(feed({9}), std::vector<std::string>{"high:3"}); // back in range, then out again
}

TEST_F(breach_rule, a_sample_back_in_range_never_breaches) {
  EXPECT_EQ(feed({9, 9, 9}), std::vector<std::string>{"high:3"});
  EXPECT_TRUE(feed({9, 9, 9, 9, 3}).empty()); // the excursion ends: no event at the 3
  EXPECT_TRUE(feed({9, 9}).empty());          // its samples are gone with it
  EXPECT_EQ(feed({9}), std::vector<std::string>{"high:3"});
}

TEST_F(breach_rule, the_event_has_the_seed_fields) {
  auto b = fw::sla::breach{"high", 5, 9, 3};
  auto e = fw::sla::breach_event(m, b, "sla-1", 1700000000.5);
  EXPECT_EQ(e, json::parse(R"({"event_id":"sla-1","timestamp":1700000000.5,"metric":"latency",
    "query":"q","observed_value":9.0,"threshold_violated":5.0,"breach_type":"high",
    "violations_count":3})"));
}

} // namespace
