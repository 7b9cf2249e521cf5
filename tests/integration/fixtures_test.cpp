// Proves each integration-test fixture works against the real thing, so a
// failure elsewhere is never a fixture's fault.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <system_error>

#include "tests/fakes/scripted_http_server.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/kafka_broker.hpp"
#include "tests/support/net.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/support/prometheus_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace fw::test {
namespace {

using namespace std::chrono_literals;

bool process_gone(pid_t pid) {  // a killed orphan may linger as a zombie
  std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
  std::string pid_field, comm, state;
  return !(stat >> pid_field >> comm >> state) || state == "Z";
}

TEST(ChildProcess, ExitCodeOutputEnvAndWorkingDir) {
  temp_dir dir{"fw-child-"};
  child_process proc{{{"/bin/sh", "-c", "echo out:$FW_PROBE; pwd; echo err >&2; exit 3"},
                      {{"FW_PROBE", "xyz"}},
                      dir.path().string()}};
  EXPECT_EQ(proc.wait_for(5s), 3);
  EXPECT_TRUE(proc.wait_for_output("err", 2s));
  auto out = proc.output();
  EXPECT_NE(out.find("out:xyz\n"), std::string::npos) << out;
  EXPECT_NE(out.find(dir.path().string() + "\n"), std::string::npos) << out;
  EXPECT_FALSE(proc.running());
}

TEST(ChildProcess, SignalTimeoutAndMissingProgram) {
  child_process proc{{{"/bin/sh", "-c", "echo ready; exec sleep 30"}, {}, {}}};
  ASSERT_TRUE(proc.wait_for_output("ready", 5s));
  EXPECT_EQ(proc.wait_for(50ms), std::nullopt);
  EXPECT_TRUE(proc.running());
  proc.signal(SIGTERM);
  EXPECT_EQ(proc.wait_for(5s), 128 + SIGTERM);
  EXPECT_FALSE(proc.wait_for_output("never printed", 1s));  // returns early at EOF

  EXPECT_THROW(child_process({{"/nonexistent/fw-binary"}, {}, {}}), std::system_error);
}

TEST(ChildProcess, DestructorKillsTheWholeGroup) {
  pid_t grandchild = 0;
  {
    child_process proc{{{"/bin/sh", "-c", "sleep 30 & echo bg=$!; wait"}, {}, {}}};
    ASSERT_TRUE(proc.wait_for_output("\n", 5s));
    grandchild = std::stoi(proc.output().substr(proc.output().find('=') + 1));
    EXPECT_FALSE(process_gone(grandchild));
  }
  EXPECT_TRUE(wait_until([&] { return process_gone(grandchild); }, 5s));
}

TEST(TempDir, RemovedRecursively) {
  std::filesystem::path kept;
  {
    temp_dir dir{"fw-tmp-"};
    kept = dir.path();
    std::filesystem::create_directories(dir.path() / "a" / "b");
    std::ofstream{dir.path() / "a" / "b" / "file"} << "x";
    EXPECT_TRUE(std::filesystem::is_directory(kept));
  }
  EXPECT_FALSE(std::filesystem::exists(kept));
}

TEST(ScriptedHttpServer, HandlerRecordingAndNotFound) {
  scripted_http_server server;
  server.on("POST", "/bot123/sendMessage", [](const scripted_http_server::request& req) {
    return scripted_http_server::response{201, R"({"ok":true,"echo":")" +
                                                    req.query.at("chat_id") + "\"}"}
        .with_header("X-Fake", "yes");
  });
  auto r = http_request("POST", server.url() + "/bot123/sendMessage?chat_id=42&text=hi%20there",
                        R"({"text":"hello"})",
                        {"X-Probe: 1", "Content-Type: application/json"});
  ASSERT_EQ(r.status, 201) << r.error;
  EXPECT_EQ(r.body, R"({"ok":true,"echo":"42"})");
  EXPECT_EQ(r.headers["x-fake"], "yes");
  EXPECT_EQ(r.headers["content-type"], "application/json");

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/bot123/sendMessage");
  EXPECT_EQ(reqs[0].target, "/bot123/sendMessage?chat_id=42&text=hi%20there");
  EXPECT_EQ(reqs[0].query.at("text"), "hi there");
  EXPECT_EQ(reqs[0].headers.at("x-probe"), "1");
  EXPECT_EQ(reqs[0].body, R"({"text":"hello"})");

  auto missing = http_get(server.url() + "/nope?x=1");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("/nope"), std::string::npos) << missing.body;
  EXPECT_EQ(server.request_count(), 2u);
  server.clear();
  EXPECT_TRUE(server.requests().empty());
}

TEST(ScriptedHttpServer, KeepAliveDelayAndRestartOnSamePort) {
  scripted_http_server server;
  server.on("GET", "/ping", scripted_http_server::response{200, "pong", "text/plain"});

  // Two pipelined requests on one connection both get an answer.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string two = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, two.data(), two.size()), static_cast<ssize_t>(two.size()));
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  char buf[1024];
  while (got.find("pong", got.find("pong") + 1) == std::string::npos) {
    auto n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  EXPECT_NE(got.find("pong", got.find("pong") + 1), std::string::npos) << got;
  EXPECT_EQ(server.request_count(), 2u);

  server.on("GET", "/slow",
            scripted_http_server::response{200, "late", "text/plain"}.with_delay(400ms));
  EXPECT_EQ(http_request("GET", server.url() + "/slow", "", {}, 100ms).status, 0);
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(http_get(server.url() + "/slow").body, "late");
  EXPECT_GE(std::chrono::steady_clock::now() - started, 400ms);

  auto port = server.port();
  server.stop();
  auto down = http_get(server.url() + "/ping", 1s);
  EXPECT_EQ(down.status, 0);
  EXPECT_FALSE(down.error.empty());
  server.start();
  EXPECT_EQ(server.port(), port);
  EXPECT_EQ(http_get(server.url() + "/ping").body, "pong");
}

TEST(PostgresServer, DataSurvivesStopAndStartAgain) {
  postgres_server pg;
  pg.start();
  EXPECT_EQ(pg.url(),
            "postgresql://postgres@127.0.0.1:" + std::to_string(pg.port()) + "/flightwatch");
  {
    pqxx::connection conn{pg.url()};
    pqxx::work tx{conn};
    tx.exec("CREATE TABLE probe (id INT PRIMARY KEY, name TEXT NOT NULL)");
    tx.exec("INSERT INTO probe VALUES (1, 'lufthansa')");
    tx.commit();
    pqxx::work check{conn};
    EXPECT_EQ(check.exec1("SELECT name FROM probe WHERE id = 1")[0].as<std::string>(),
              "lufthansa");
  }
  pg.stop();
  EXPECT_FALSE(pg.running());
  EXPECT_THROW(pqxx::connection{pg.url()}, pqxx::broken_connection);

  pg.start_again();
  pqxx::connection conn{pg.url()};
  pqxx::work tx{conn};
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM probe WHERE name = 'lufthansa'")[0].as<int>(), 1);
}

TEST(PrometheusServer, ScrapesATargetAndAnswersQueries) {
  scripted_http_server target;
  target.on("GET", "/metrics",
            scripted_http_server::response{
                200, "# TYPE fixture_probe_value gauge\nfixture_probe_value 42\n",
                "text/plain; version=0.0.4"});
  prometheus_server prom{{"127.0.0.1:" + std::to_string(target.port())}};
  EXPECT_EQ(http_get(prom.url() + "/-/ready").status, 200);

  // The first scrape lands ~5 s after start even with a 1 s interval.
  std::optional<double> value;
  EXPECT_TRUE(wait_until(
      [&] { return (value = prom.query_value("fixture_probe_value{job=\"flightwatch\"}")) == 42.0; },
      20s, 250ms))
      << prom.query("fixture_probe_value").dump() << "\n" << prom.output();
  EXPECT_EQ(prom.query_value("up{job=\"flightwatch\"}"), 1.0);
  EXPECT_GE(target.request_count(), 1u);
  EXPECT_EQ(target.requests().at(0).path, "/metrics");
  EXPECT_EQ(prom.query("sum(")["status"], "error");

  prom.stop();
  EXPECT_EQ(http_get(prom.url() + "/-/ready", 1s).status, 0);
  prom.start_again();
  EXPECT_EQ(http_get(prom.url() + "/-/ready").status, 200);
}

struct kafka_deleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using kafka_ptr = std::unique_ptr<rd_kafka_t, kafka_deleter>;

kafka_ptr make_client(rd_kafka_type_t type,
                      const std::vector<std::pair<std::string, std::string>>& settings,
                      void (*dr_cb)(rd_kafka_t*, const rd_kafka_message_t*, void*) = nullptr,
                      void* opaque = nullptr) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK)
      throw std::runtime_error(errstr);
  }
  if (dr_cb) rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  rd_kafka_conf_set_opaque(conf, opaque);
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (!rk) throw std::runtime_error(errstr);
  return kafka_ptr{rk};
}

TEST(KafkaBroker, ProduceAndConsumeKeyedMessageWithAGroup) {
  kafka_broker broker;
  ASSERT_NE(broker.bootstrap().find("127.0.0.1:"), std::string::npos) << broker.bootstrap();
  const std::string key = "flight-3c6444";
  const std::string payload =
      R"({"probe":)" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) +
      "}";

  rd_kafka_resp_err_t delivery = RD_KAFKA_RESP_ERR__IN_PROGRESS;
  auto producer = make_client(
      RD_KAFKA_PRODUCER, {{"bootstrap.servers", broker.bootstrap()}},
      [](rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
        *static_cast<rd_kafka_resp_err_t*>(opaque) = msg->err;
      },
      &delivery);
  ASSERT_EQ(rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC("to-notifier"),
                              RD_KAFKA_V_KEY(key.data(), key.size()),
                              RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_flush(producer.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(delivery, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(delivery);

  auto consumer = make_client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", broker.bootstrap()},
                                                  {"group.id", "fixtures-test"},
                                                  {"auto.offset.reset", "earliest"},
                                                  {"session.timeout.ms", "6000"}});
  rd_kafka_poll_set_consumer(consumer.get());
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, "to-notifier", RD_KAFKA_PARTITION_UA);
  ASSERT_EQ(rd_kafka_subscribe(consumer.get(), topics), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(topics);

  std::string got_key, got_payload;
  auto deadline = std::chrono::steady_clock::now() + 20s;  // a group join takes >= 3 s
  while (got_payload.empty() && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(consumer.get(), 200);
    if (!msg) continue;
    if (!msg->err) {
      got_key.assign(static_cast<const char*>(msg->key), msg->key_len);
      got_payload.assign(static_cast<const char*>(msg->payload), msg->len);
    }
    rd_kafka_message_destroy(msg);
  }
  rd_kafka_consumer_close(consumer.get());
  EXPECT_EQ(got_payload, payload);
  EXPECT_EQ(got_key, key);

  consumer.reset();  // before the broker goes, or they log "brokers are down"
  producer.reset();
  broker.stop();
  EXPECT_FALSE(broker.running());
}

}  // namespace
}  // namespace fw::test
