#pragma once
// The node's Kafka producer: one librdkafka idempotent producer (acks=all, retries
// without a deadline) and its poll thread. Publishing is non-blocking: an event is
// queued in librdkafka's bounded buffer (kafka.buffer_max_messages) or refused at once
// when that is full. The poll thread serves delivery reports (handed over in batches),
// probes whether a broker is reachable and, on stop, flushes with a bounded timeout.
// No CAF in here: kafka_topics turns the hooks into messages to its actor.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace prometheus {
class Gauge;
} // namespace prometheus

namespace fw::kafka {

struct producer_options {
  std::string brokers;
  std::string client_id;
  std::uint64_t buffer_max_messages = 100000;
  std::chrono::milliseconds linger{1};            // linger.ms
  std::map<std::string, std::string> properties;  // extra librdkafka properties, applied last
  std::chrono::milliseconds probe_interval{5000}; // metadata probe while a broker answers
  std::chrono::milliseconds probe_timeout{500};   // (every second while none does)
  std::chrono::milliseconds flush_timeout{2000};  // on stop
  prometheus::Gauge* queue_depth = nullptr;       // rd_kafka_outq_len
  prometheus::Gauge* reachable = nullptr;         // 1 while a broker answers
  std::shared_ptr<const void> keep_alive;         // owner of the gauges
};

/// The broker's verdict on one produced event. `error` is 0 when the broker has it.
struct delivery_report {
  std::uint64_t id = 0;
  int error = 0;          // rd_kafka_resp_err_t
  std::string error_text; // empty when delivered
};

/// Called on the poll thread; they must not block.
struct producer_hooks {
  std::function<void(std::vector<delivery_report>)> delivered;
  std::function<void(std::string)> fatal; // the producer cannot go on (idempotence broken)
  std::function<void()> stopped;          // flushed (or gave up) and destroyed
};

class kafka_producer {
public:
  /// Creates the producer and starts its poll thread; nullptr and `error` on a bad
  /// configuration.
  static std::unique_ptr<kafka_producer> start(producer_options opts, producer_hooks hooks,
                                               std::string& error);
  /// Stops (if not yet) without waiting: a poll thread still flushing finishes on its own.
  ~kafka_producer();

  enum class result { queued, buffer_full, failed };
  /// Queues the event (key orders one user's events in one partition); never blocks. The
  /// delivery report carries `id`. `error` explains `failed`.
  result produce(const std::string& topic, const std::string& key, const std::string& payload,
                 std::uint64_t id, std::string& error);

  struct health {
    bool ready = false;
    std::string detail;
    std::size_t queued = 0; // events waiting for the broker's acknowledgement
  };
  health status() const;

  /// Asks the poll thread to flush (bounded by flush_timeout), destroy the producer and
  /// call hooks.stopped. Returns at once.
  void stop();

  kafka_producer(const kafka_producer&) = delete;
  kafka_producer& operator=(const kafka_producer&) = delete;

  struct shared; // the librdkafka handle and what the poll thread shares with callers

private:
  explicit kafka_producer(std::shared_ptr<shared> s);
  std::shared_ptr<shared> shared_;
  std::thread thread_;
};

} // namespace fw::kafka
