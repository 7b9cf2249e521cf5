// Topics over Kafka against the Kafka test broker (librdkafka's mock cluster in a child
// process): publish is answered only once the broker has the event (and not while no
// broker is reachable), a full producer buffer answers unavailable, one key keeps its
// order, a failed record is redelivered and nothing is committed past it, a restarted
// consumer resumes after the last acknowledged record, max_in_flight bounds unanswered
// deliveries, metrics and health. The offset bookkeeping and the configuration (fetch
// wait, linger, bad librdkafka properties) are also tested on their own.

#include "actors/common/topic_broker.hpp"
#include "actors/kafka_bridge/kafka_topics.hpp"
#include "actors/kafka_bridge/offset_tracker.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "tests/support/actor_test.hpp"
#include "tests/support/kafka_broker.hpp"
#include "tests/support/net.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <librdkafka/rdkafka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace {

using namespace std::chrono_literals;

// -- the offset bookkeeping on its own ----------------------------------------------------

TEST(offset_tracker, commits_the_contiguous_acknowledged_prefix_per_partition) {
  fw::kafka::offset_tracker t{10};
  t.assign(0);
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(t.add(0, 100 + i, "e" + std::to_string(i)));
  auto out = t.take_dispatchable();
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].offset, 100);
  EXPECT_EQ(out[3].payload, "e3");
  EXPECT_TRUE(t.ack(0, out[1].generation, 101)); // out of order: nothing committable yet
  EXPECT_TRUE(t.take_commits().empty());
  EXPECT_TRUE(t.ack(0, out[0].generation, 100));
  auto commits = t.take_commits();
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0], (std::pair<std::int32_t, std::int64_t>{0, 102}));
  EXPECT_EQ(t.held(), 2u);
  EXPECT_EQ(t.outstanding(), 2u);
}

TEST(offset_tracker, a_failed_record_blocks_its_partition_and_its_commit) {
  fw::kafka::offset_tracker t{10};
  t.assign(0);
  t.assign(1);
  t.add(0, 0, "a");
  t.add(0, 1, "b");
  t.add(1, 0, "x");
  auto out = t.take_dispatchable();
  ASSERT_EQ(out.size(), 3u);
  auto gen0 = out[0].generation;
  EXPECT_TRUE(t.ack(0, gen0, 0));
  EXPECT_EQ(t.fail(0, gen0, 1), 1u);
  t.add(0, 2, "c"); // waits behind b
  t.add(1, 1, "y"); // partition 1 goes on
  out = t.take_dispatchable();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, "y");
  EXPECT_EQ(t.paused_wanted(), std::set<std::int32_t>{0});
  auto again = t.retry(0, gen0, 1);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->payload, "b");
  EXPECT_EQ(again->attempts, 2u);
  EXPECT_TRUE(t.take_dispatchable().empty()); // c waits until b is acknowledged
  EXPECT_TRUE(t.ack(0, gen0, 1));
  out = t.take_dispatchable();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, "c");
  EXPECT_TRUE(t.paused_wanted().empty());
  EXPECT_EQ(t.take_commits(), (std::vector<std::pair<std::int32_t, std::int64_t>>{{0, 2}}));
}

TEST(offset_tracker, revocation_forgets_and_returns_the_commit_and_ignores_late_answers) {
  fw::kafka::offset_tracker t{2};
  t.assign(3);
  t.add(3, 7, "a");
  t.add(3, 8, "b");
  EXPECT_FALSE(t.add(3, 8, "b"));                          // a refetch
  EXPECT_EQ(t.paused_wanted(), std::set<std::int32_t>{3}); // full
  auto out = t.take_dispatchable();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(t.ack(3, out[0].generation, 7));
  EXPECT_EQ(t.revoke(3), std::optional<std::int64_t>{8});
  EXPECT_FALSE(t.ack(3, out[1].generation, 8));
  EXPECT_EQ(t.held(), 0u);
  EXPECT_EQ(t.outstanding(), 0u);
  t.assign(3);
  EXPECT_TRUE(t.add(3, 8, "b")); // redelivered after the new assignment
}

// -- helpers -----------------------------------------------------------------------------

using config = fw::test::actor_test_config;

/// What a test subscriber saw and how it answers.
struct journal {
  enum class answer { ack, fail, hold };
  std::mutex mtx;
  std::vector<std::string> delivered; // every delivery, in arrival order
  std::vector<std::string> acked;
  std::map<std::string, int> attempts;
  std::vector<caf::response_promise> held;
  std::size_t max_held = 0;
  std::function<answer(const std::string& payload, int attempt)> policy;

  std::size_t count_delivered() {
    std::lock_guard guard{mtx};
    return delivered.size();
  }
  std::size_t count_acked() {
    std::lock_guard guard{mtx};
    return acked.size();
  }
  std::size_t count_held() {
    std::lock_guard guard{mtx};
    return held.size();
  }
  int attempts_of(const std::string& payload) {
    std::lock_guard guard{mtx};
    return attempts[payload];
  }
  std::vector<std::string> acked_copy() {
    std::lock_guard guard{mtx};
    return acked;
  }
  std::vector<std::string> delivered_copy() {
    std::lock_guard guard{mtx};
    return delivered;
  }
};

caf::behavior recorder(caf::event_based_actor* self, std::shared_ptr<journal> j) {
  return {
      [self, j](fw::topic_event_atom, const std::string&, const std::string& payload) {
        auto rp = self->make_response_promise();
        std::lock_guard guard{j->mtx};
        j->delivered.push_back(payload);
        auto n = ++j->attempts[payload];
        auto a = j->policy ? j->policy(payload, n) : journal::answer::ack;
        switch (a) {
        case journal::answer::ack:
          j->acked.push_back(payload);
          rp.deliver(caf::unit);
          break;
        case journal::answer::fail:
          rp.deliver(fw::make_error(fw::ec::unavailable, "test subscriber fails " + payload));
          break;
        case journal::answer::hold:
          j->held.push_back(rp);
          j->max_held = std::max(j->max_held, j->held.size());
          break;
        }
        return rp;
      },
      // Runs test code inside the subscriber (answering held promises).
      [self](fw::bridge_task& task) { task.run(self); },
  };
}

/// Answers of publishes made without waiting, in the order they arrive.
struct reply_log {
  std::mutex mtx;
  std::vector<std::pair<std::string, caf::error>> replies; // (payload, error or none)

  std::size_t size() {
    std::lock_guard guard{mtx};
    return replies.size();
  }
  std::size_t failures() {
    std::lock_guard guard{mtx};
    return std::count_if(replies.begin(), replies.end(), [](auto& r) { return bool(r.second); });
  }
};

struct event {
  std::string key;
  std::string payload;
};

/// One flightwatch node's worth of actors around Kafka topics.
struct test_node {
  explicit test_node(fw::kafka_topics_config kcfg, const std::string& name = "test-node") {
    auto ctx = std::make_shared<fw::node_context>();
    ctx->cfg.node.name = name;
    ctx->metrics = std::make_shared<fw::node_metrics>(name);
    ctx->directory = std::make_shared<fw::role_directory>();
    context = ctx;
    topics = fw::spawn_kafka_topics_with(sys, context, std::move(kcfg));
  }

  ~test_node() {
    stop();
  }

  /// Sends exits to everything and waits until topics has finished; how long that took.
  std::chrono::milliseconds stop() {
    auto started = std::chrono::steady_clock::now();
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    actors.clear();
    if (topics) {
      caf::anon_send_exit(topics, caf::exit_reason::user_shutdown);
      self->wait_for(topics);
      topics = nullptr;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started);
  }

  caf::actor subscribe(const std::string& topic, std::shared_ptr<journal> j) {
    auto sub = sys.spawn(recorder, std::move(j));
    actors.push_back(sub);
    caf::error failure;
    self->request(topics, 5s, fw::subscribe_atom::value, topic, sub)
        .receive([] {}, [&](caf::error& e) { failure = e; });
    EXPECT_FALSE(failure) << caf::to_string(failure);
    return sub;
  }

  caf::error publish(const std::string& topic, const std::string& key, const std::string& payload,
                     caf::duration timeout = caf::duration{10s}) {
    caf::error out;
    self->request(topics, timeout, fw::publish_atom::value, topic, key, payload)
        .receive([] {}, [&](caf::error& e) { out = e; });
    return out;
  }

  /// Publishes `events` in this order from one actor without waiting for the answers.
  std::shared_ptr<reply_log> publish_all(const std::string& topic, std::vector<event> events) {
    auto log = std::make_shared<reply_log>();
    auto t = topics;
    sys.spawn([log, t, topic, events](caf::event_based_actor* a) {
      for (const auto& ev : events)
        a->request(t, caf::infinite, fw::publish_atom::value, topic, ev.key, ev.payload)
            .then(
                [log, p = ev.payload] {
                  std::lock_guard guard{log->mtx};
                  log->replies.emplace_back(p, caf::error{});
                },
                [log, p = ev.payload](caf::error& e) {
                  std::lock_guard guard{log->mtx};
                  log->replies.emplace_back(p, e);
                });
    });
    return log;
  }

  fw::component_health health() {
    fw::component_health out;
    self->request(topics, 5s, fw::health_atom::value)
        .receive([&](fw::component_health& h) { out = h; },
                 [&](caf::error& e) { out.detail = caf::to_string(e); });
    return out;
  }

  config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  fw::node_context_ptr context;
  caf::actor topics;
  std::vector<caf::actor> actors;
};

/// Kafka topics settings for tests: quick probes, reconnects and group timeouts (the mock
/// cluster needs one small session.timeout.ms everywhere).
fw::kafka_topics_config test_config(const std::string& brokers) {
  fw::kafka_topics_config c;
  c.brokers = brokers;
  c.group_prefix = "fwtest";
  c.retry_backoff = 50ms;
  c.retry_backoff_max = 200ms;
  c.probe_interval = 500ms;
  c.probe_timeout = 300ms;
  c.lag_interval = 300ms;
  c.flush_timeout = 1s;
  c.shutdown_timeout = 3s;
  c.fetch_wait = 50ms;
  c.properties = {{"session.timeout.ms", "6000"},
                  {"heartbeat.interval.ms", "500"},
                  {"reconnect.backoff.ms", "50"},
                  {"reconnect.backoff.max.ms", "300"},
                  {"topic.metadata.refresh.interval.ms", "1000"}};
  return c;
}

/// A librdkafka handle for the test's own questions to the broker.
struct raw_client {
  raw_client(const std::string& brokers, const std::string& group = "fwtest-inspector") {
    char errstr[512];
    auto* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", group.c_str(), errstr, sizeof errstr);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  }
  ~raw_client() {
    rd_kafka_destroy(rk);
  }

  /// Committed offset of each partition of `topic` for this client's group (-1001: none).
  std::map<std::int32_t, std::int64_t> committed(const std::string& topic, int partitions = 4) {
    auto* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p)
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
    std::map<std::int32_t, std::int64_t> out;
    if (!rd_kafka_committed(rk, list, 5000))
      for (int i = 0; i < list->cnt; ++i)
        out[list->elems[i].partition] = list->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(list);
    return out;
  }

  /// Events stored in `topic` (sum of the partitions' high watermarks).
  std::int64_t stored(const std::string& topic, int partitions = 4) {
    std::int64_t sum = 0;
    for (int p = 0; p < partitions; ++p) {
      std::int64_t low = 0;
      std::int64_t high = 0;
      if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 5000))
        return -1;
      sum += high;
    }
    return sum;
  }

  rd_kafka_t* rk = nullptr;
};

/// Forwards TCP connections from 127.0.0.1:<port> to a target: the broker's bootstrap
/// address for a client that was configured before the broker (random port) existed.
class tcp_forwarder {
public:
  tcp_forwarder(std::uint16_t port, const std::string& target) {
    auto colon = target.rfind(':');
    target_port_ = static_cast<std::uint16_t>(std::stoi(target.substr(colon + 1)));
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto addr = loopback(port);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 16) != 0)
      throw std::runtime_error("tcp_forwarder: cannot listen on " + std::to_string(port));
    acceptor_ = std::thread{[this] { accept_loop(); }};
  }

  ~tcp_forwarder() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : pumps_)
      t.join();
    close(listen_fd_);
  }

private:
  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0)
        continue;
      int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0)
        continue;
      int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      auto addr = loopback(target_port_);
      if (connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(client);
        close(upstream);
        continue;
      }
      pumps_.emplace_back([this, client, upstream] { pump(client, upstream); });
    }
  }

  void pump(int a, int b) {
    char buf[16384];
    while (!stop_) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (poll(p, 2, 50) <= 0)
        continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
          continue;
        auto n = read(p[i].fd, buf, sizeof buf);
        if (n <= 0) {
          closed = true;
          break;
        }
        int to = i == 0 ? b : a;
        for (ssize_t done = 0; done < n;) {
          auto w = write(to, buf + done, static_cast<std::size_t>(n - done));
          if (w <= 0) {
            closed = true;
            break;
          }
          done += w;
        }
      }
      if (closed)
        break;
    }
    close(a);
    close(b);
  }

  int listen_fd_ = -1;
  std::uint16_t target_port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
};

std::vector<event> events_of(const std::string& key, const std::string& prefix, int n,
                             int first = 0) {
  std::vector<event> out;
  for (int i = first; i < first + n; ++i)
    out.push_back({key, prefix + std::to_string(i)});
  return out;
}

/// The metric line of `name` whose labels contain `label`, or "".
std::string metric_line(const std::string& text, const std::string& name,
                        const std::string& label) {
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + "{", 0) == 0 && line.find(label) != std::string::npos)
      return line;
  return {};
}

const std::string topic = fw::topic_to_notifier;

// -- configuration -----------------------------------------------------------------------

TEST(kafka_topics_config, takes_fetch_wait_and_linger_from_the_settings) {
  fw::settings s;
  s.kafka.brokers = "127.0.0.1:9092";
  auto c = fw::kafka_topics_config::from(s);
  EXPECT_EQ(c.fetch_wait, 5ms); // the shipped defaults
  EXPECT_EQ(c.linger, 1ms);
  s.kafka.fetch_wait = 20ms;
  s.kafka.linger = 0ms;
  c = fw::kafka_topics_config::from(s);
  EXPECT_EQ(c.fetch_wait, 20ms);
  EXPECT_EQ(c.linger, 0ms);
  EXPECT_FALSE(c.validate());
  c.fetch_wait = 0ms;
  ASSERT_TRUE(c.validate());
  EXPECT_EQ(c.validate()->rfind("fetch_wait:", 0), 0u) << *c.validate();
}

TEST(kafka_topics_config, a_bad_librdkafka_property_names_its_key_and_keeps_secrets) {
  auto kcfg = test_config("127.0.0.1:" + std::to_string(fw::test::free_port()));
  kcfg.properties["linger.ms"] = "soon";
  test_node bad{kcfg};
  auto h = bad.health();
  EXPECT_FALSE(h.ready);
  EXPECT_NE(h.detail.find("kafka property linger.ms"), std::string::npos) << h.detail;
  // A property whose name looks secret: its value is never repeated.
  kcfg.properties.erase("linger.ms");
  kcfg.properties["ssl.key.password.typo"] = "hunter2";
  test_node secret{kcfg};
  h = secret.health();
  EXPECT_NE(h.detail.find("kafka property ssl.key.password.typo: invalid"), std::string::npos)
      << h.detail;
  EXPECT_EQ(h.detail.find("hunter2"), std::string::npos) << h.detail;
}

// -- publishing --------------------------------------------------------------------------

TEST(kafka_topics, a_published_event_reaches_a_subscriber_with_its_payload) {
  fw::test::kafka_broker broker;
  test_node node{test_config(broker.bootstrap())};
  ASSERT_TRUE(fw::test::wait_until([&] { return node.health().ready; }, 10s))
      << node.health().detail;
  auto seen = std::make_shared<journal>();
  node.subscribe(topic, seen);
  auto err = node.publish(topic, "anna@x.org", R"({"event_id":"e1","user_email":"anna@x.org"})");
  ASSERT_FALSE(err) << caf::to_string(err);
  ASSERT_TRUE(fw::test::wait_until([&] { return seen->count_acked() == 1; }, 20s));
  EXPECT_EQ(seen->acked_copy()[0], R"({"event_id":"e1","user_email":"anna@x.org"})");
  // The offset is committed once the subscriber answered.
  raw_client client{broker.bootstrap(), fw::consumer_group(test_config(""), topic)};
  EXPECT_TRUE(fw::test::wait_until(
      [&] {
        std::int64_t sum = 0;
        for (auto [p, off] : client.committed(topic))
          sum += std::max<std::int64_t>(off, 0);
        return sum == 1;
      },
      5s));
  // Metrics of both directions.
  std::string text;
  EXPECT_TRUE(fw::test::wait_until(
      [&] {
        text = node.context->metrics->scrape();
        return metric_line(text, "kafka_consumer_lag", "topic=\"to-notifier\"").ends_with(" 0") &&
               !metric_line(text, "kafka_consumed_total", "topic=\"to-notifier\"").empty();
      },
      5s))
      << text;
  auto produced = metric_line(text, "kafka_produced_total", "topic=\"to-notifier\"");
  EXPECT_TRUE(produced.ends_with(" 1")) << produced;
  EXPECT_NE(produced.find("service=\"topics\""), std::string::npos) << produced;
  EXPECT_NE(produced.find("node=\"test-node\""), std::string::npos) << produced;
  EXPECT_TRUE(metric_line(text, "kafka_consumed_total", "topic=\"to-notifier\"").ends_with(" 1"));
  EXPECT_FALSE(metric_line(text, "kafka_producer_queue_depth", "service=\"topics\"").empty());
  EXPECT_TRUE(metric_line(text, "kafka_broker_reachable", "service=\"topics\"").ends_with(" 1"));
}

TEST(kafka_topics, publish_answers_only_once_a_broker_has_the_event) {
  // The node is configured with an address where no broker runs yet.
  auto port = fw::test::free_port();
  test_node node{test_config("127.0.0.1:" + std::to_string(port))};
  auto replies = node.publish_all(topic, {{"anna@x.org", "early"}});
  ASSERT_TRUE(fw::test::wait_until(
      [&] { return node.health().detail.find("no Kafka broker reachable") != std::string::npos; },
      5s))
      << node.health().detail;
  EXPECT_FALSE(node.health().ready);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(replies->size(), 0u) << "answered while no broker was reachable";
  // The node stays up meanwhile.
  bool pong = false;
  node.self->request(node.topics, 2s, fw::ping_atom::value)
      .receive([&](fw::pong&) { pong = true; }, [](caf::error&) {});
  EXPECT_TRUE(pong);

  fw::test::kafka_broker broker;
  tcp_forwarder forward{port, broker.bootstrap()};
  ASSERT_TRUE(fw::test::wait_until([&] { return replies->size() == 1; }, 20s));
  EXPECT_EQ(replies->failures(), 0u);
  raw_client client{broker.bootstrap()};
  EXPECT_EQ(client.stored(topic), 1) << "answered before the broker had it";
  EXPECT_TRUE(fw::test::wait_until([&] { return node.health().ready; }, 5s));
}

TEST(kafka_topics, a_full_producer_buffer_answers_unavailable_at_once) {
  auto kcfg = test_config("127.0.0.1:" + std::to_string(fw::test::free_port()));
  kcfg.buffer_max_messages = 2;
  test_node node{kcfg};
  auto waiting = node.publish_all(topic, {{"a@x.org", "one"}, {"b@x.org", "two"}});
  ASSERT_TRUE(fw::test::wait_until(
    [&] { return node.health().detail.find("2 event(s) buffered") != std::string::npos; }, 5s))
    << node.health().detail;
  auto started = std::chrono::steady_clock::now();
  auto err = node.publish(topic, "c@x.org", "three", caf::duration{5s});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  ASSERT_TRUE(err);
  EXPECT_EQ(fw::code_of(err), fw::ec::unavailable);
  EXPECT_NE(fw::message_of(err).find("buffer full"), std::string::npos) << fw::message_of(err);
  EXPECT_EQ(waiting->size(), 0u);
  EXPECT_TRUE(metric_line(node.context->metrics->scrape(), "kafka_produce_failures_total",
                          "reason=\"buffer_full\"")
                  .ends_with(" 1"));
  // Shutting down with a broker that never came: bounded, and the waiting publishers
  // learn that their events were not published.
  auto took = node.stop();
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(fw::test::wait_until([&] { return waiting->size() == 2; }, 2s));
  EXPECT_EQ(waiting->failures(), 2u);
}

TEST(kafka_topics, a_lost_broker_makes_topics_not_ready_and_shutdown_stays_bounded) {
  auto broker = std::make_unique<fw::test::kafka_broker>();
  test_node node{test_config(broker->bootstrap())};
  auto seen = std::make_shared<journal>();
  node.subscribe(topic, seen);
  ASSERT_FALSE(node.publish(topic, "anna@x.org", "before"));
  ASSERT_TRUE(fw::test::wait_until([&] { return seen->count_acked() == 1; }, 20s));
  broker->stop();
  ASSERT_TRUE(fw::test::wait_until([&] { return !node.health().ready; }, 10s));
  EXPECT_NE(node.health().detail.find("no Kafka broker reachable"), std::string::npos)
      << node.health().detail;
  auto waiting = node.publish_all(topic, {{"anna@x.org", "after"}});
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(waiting->size(), 0u);
  auto took = node.stop();
  EXPECT_LT(took, 4s); // shutdown_timeout 3 s
  EXPECT_TRUE(fw::test::wait_until([&] { return waiting->size() == 1; }, 2s));
  EXPECT_EQ(waiting->failures(), 1u);
}

// -- consuming ---------------------------------------------------------------------------

TEST(kafka_topics, events_of_one_key_keep_their_order) {
  fw::test::kafka_broker broker;
  test_node node{test_config(broker.bootstrap())};
  auto seen = std::make_shared<journal>();
  node.subscribe(topic, seen);
  std::vector<event> events;
  for (int i = 0; i < 100; ++i)
    events.push_back({i % 2 ? "anna@x.org" : "bob@x.org", (i % 2 ? "a" : "b") + std::to_string(i)});
  auto replies = node.publish_all(topic, events);
  ASSERT_TRUE(fw::test::wait_until([&] { return replies->size() == 100; }, 20s));
  EXPECT_EQ(replies->failures(), 0u);
  ASSERT_TRUE(fw::test::wait_until([&] { return seen->count_acked() == 100; }, 30s))
      << seen->count_acked();
  std::vector<std::string> anna;
  std::vector<std::string> bob;
  for (const auto& p : seen->acked_copy())
    (p[0] == 'a' ? anna : bob).push_back(p);
  std::vector<std::string> want_anna;
  std::vector<std::string> want_bob;
  for (const auto& ev : events)
    (ev.key == "anna@x.org" ? want_anna : want_bob).push_back(ev.payload);
  EXPECT_EQ(anna, want_anna);
  EXPECT_EQ(bob, want_bob);
}

TEST(kafka_topics, a_failed_record_is_delivered_again_and_nothing_is_committed_past_it) {
  auto b_recovers = std::make_shared<std::atomic<bool>>(false);
  fw::test::kafka_broker broker;
  test_node node{test_config(broker.bootstrap())};
  auto seen = std::make_shared<journal>();
  seen->policy = [b_recovers](const std::string& payload, int) {
    return payload == "b" && !*b_recovers ? journal::answer::fail : journal::answer::ack;
  };
  node.subscribe(topic, seen);
  // One key: one partition, offsets 0 (a), 1 (b), 2 (c).
  auto replies =
      node.publish_all(topic, {{"anna@x.org", "a"}, {"anna@x.org", "b"}, {"anna@x.org", "c"}});
  ASSERT_TRUE(fw::test::wait_until([&] { return replies->size() == 3; }, 20s));
  ASSERT_TRUE(fw::test::wait_until([&] { return seen->attempts_of("b") >= 3; }, 30s));
  // While b fails: a is committed, b and everything after it are not; a record published
  // now waits behind b.
  auto d = node.publish_all(topic, {{"anna@x.org", "d"}});
  ASSERT_TRUE(fw::test::wait_until([&] { return d->size() == 1; }, 10s));
  std::this_thread::sleep_for(500ms);
  raw_client client{broker.bootstrap(), fw::consumer_group(test_config(""), topic)};
  auto committed = client.committed(topic);
  std::int32_t partition = -1;
  for (auto [p, off] : committed)
    if (off >= 0)
      partition = p;
  ASSERT_NE(partition, -1) << "nothing committed";
  EXPECT_EQ(committed[partition], 1) << "committed past the failed record";
  EXPECT_EQ(seen->attempts_of("d"), 0) << "a later record overtook the failed one";

  *b_recovers = true;
  ASSERT_TRUE(fw::test::wait_until([&] { return seen->attempts_of("d") == 1; }, 10s));
  auto delivered = seen->delivered_copy();
  auto last_b = std::find(delivered.rbegin(), delivered.rend(), "b");
  auto first_d = std::find(delivered.begin(), delivered.end(), "d");
  EXPECT_LT(std::distance(delivered.begin(), last_b.base()) - 1,
            std::distance(delivered.begin(), first_d));
  EXPECT_TRUE(fw::test::wait_until([&] { return client.committed(topic)[partition] == 4; }, 5s));
  EXPECT_EQ(seen->attempts_of("a"), 1);
  EXPECT_EQ(seen->attempts_of("c"), 1);
  auto redelivered = metric_line(node.context->metrics->scrape(), "kafka_redeliveries_total",
                                 "topic=\"to-notifier\"");
  EXPECT_FALSE(redelivered.empty() || redelivered.ends_with(" 0")) << redelivered;
}

TEST(kafka_topics, a_restarted_consumer_resumes_after_the_last_acknowledged_record) {
  fw::test::kafka_broker broker;
  auto events = events_of("anna@x.org", "e", 10);
  {
    test_node first{test_config(broker.bootstrap()), "node-1"};
    auto seen = std::make_shared<journal>();
    // Handles e0..e4; e5 keeps failing (e.g. its store is down) until the node stops.
    seen->policy = [](const std::string& payload, int) {
      return payload == "e5" ? journal::answer::fail : journal::answer::ack;
    };
    first.subscribe(topic, seen);
    auto replies = first.publish_all(topic, events);
    ASSERT_TRUE(fw::test::wait_until([&] { return replies->size() == 10; }, 20s));
    ASSERT_TRUE(fw::test::wait_until([&] { return seen->attempts_of("e5") >= 2; }, 30s));
    raw_client client{broker.bootstrap(), fw::consumer_group(test_config(""), topic)};
    ASSERT_TRUE(fw::test::wait_until(
        [&] {
          for (auto [p, off] : client.committed(topic))
            if (off == 5)
              return true;
          return false;
        },
        5s));
    auto took = first.stop();
    EXPECT_LT(took, 4s);
  }
  test_node second{test_config(broker.bootstrap()), "node-2"};
  auto seen = std::make_shared<journal>();
  second.subscribe(topic, seen);
  ASSERT_TRUE(fw::test::wait_until([&] { return seen->count_acked() >= 5; }, 30s));
  std::this_thread::sleep_for(1s);
  // At-least-once: e5 (never acknowledged) and what came after it again; e0..e4 never.
  EXPECT_EQ(seen->acked_copy(), (std::vector<std::string>{"e5", "e6", "e7", "e8", "e9"}));
}

TEST(kafka_topics, max_in_flight_bounds_unanswered_deliveries) {
  auto holding = std::make_shared<std::atomic<bool>>(true);
  fw::test::kafka_broker broker;
  auto kcfg = test_config(broker.bootstrap());
  kcfg.max_in_flight = 3;
  test_node node{kcfg};
  auto seen = std::make_shared<journal>();
  seen->policy = [holding](const std::string&, int) {
    return *holding ? journal::answer::hold : journal::answer::ack;
  };
  auto sub = node.subscribe(topic, seen);
  std::vector<event> events;
  for (int i = 0; i < 20; ++i)
    events.push_back({"user" + std::to_string(i % 5) + "@x.org", "m" + std::to_string(i)});
  auto replies = node.publish_all(topic, events);
  ASSERT_TRUE(fw::test::wait_until([&] { return replies->size() == 20; }, 20s));
  ASSERT_TRUE(fw::test::wait_until([&] { return seen->count_held() == 3; }, 30s));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(seen->count_delivered(), 3u) << "more deliveries than max_in_flight";
  // Nothing is committed meanwhile: the lag counts every event.
  EXPECT_TRUE(fw::test::wait_until(
      [&] {
        return metric_line(node.context->metrics->scrape(), "kafka_consumer_lag",
                           "topic=\"to-notifier\"")
            .ends_with(" 20");
      },
      5s))
      << node.context->metrics->scrape();
  // Answer what is held; from now on every delivery is answered at once.
  *holding = false;
  caf::anon_send(sub, fw::bridge_task{[seen](caf::event_based_actor*) {
                   std::lock_guard guard{seen->mtx};
                   for (auto& rp : seen->held)
                     rp.deliver(caf::unit);
                   seen->held.clear();
                 }});
  ASSERT_TRUE(fw::test::wait_until([&] { return seen->count_delivered() >= 20; }, 30s))
      << seen->count_delivered();
  std::this_thread::sleep_for(500ms);
  auto delivered = seen->delivered_copy();
  std::sort(delivered.begin(), delivered.end());
  std::vector<std::string> want;
  for (const auto& ev : events)
    want.push_back(ev.payload);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(delivered, want) << "each record exactly once";
  std::lock_guard guard{seen->mtx};
  EXPECT_LE(seen->max_held, 3u);
}

} // namespace
