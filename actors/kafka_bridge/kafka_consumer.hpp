#pragma once
// One consumer-group consumer of one topic for one subscriber: a librdkafka high-level
// consumer (no auto commit, earliest offset when the group has none) and its poll thread.
// Polled records go into an offset_tracker; the owner (kafka_topics' actor) takes them
// out, delivers them, and reports each answer back (ack / fail / retry). The poll thread
// commits, per partition, the highest offset below which everything was acknowledged;
// pauses fetching while max_in_flight records are held (and a partition whose record
// failed); reports consumer lag; and on stop commits, leaves the group and ends.
// No CAF in here: kafka_topics turns the hooks into messages to its actor.

#include "actors/kafka_bridge/offset_tracker.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace prometheus {
class Gauge;
} // namespace prometheus

namespace fw::kafka {

struct consumer_options {
  std::string brokers;
  std::string client_id;
  std::string topic;
  std::string group;
  std::size_t max_in_flight = 256;
  std::chrono::milliseconds fetch_wait{5};       // fetch.wait.max.ms
  std::map<std::string, std::string> properties; // extra librdkafka properties, applied last
  std::chrono::milliseconds lag_interval{5000};
  std::chrono::milliseconds close_timeout{3000}; // commit and leave the group, at most
  prometheus::Gauge* lag = nullptr;              // records in the assigned partitions not committed
  std::shared_ptr<const void> keep_alive;        // owner of the gauge
};

/// Called on the poll thread; they must not block.
struct consumer_hooks {
  std::function<void()> records; // new records wait in the tracker
  std::function<void()> stopped; // committed, left the group, destroyed
};

class kafka_consumer {
public:
  /// Creates the consumer, subscribes it to the topic and starts its poll thread; nullptr
  /// and `error` on a bad configuration.
  static std::unique_ptr<kafka_consumer> start(consumer_options opts, consumer_hooks hooks,
                                               std::string& error);
  /// Stops (if not yet) without waiting: a poll thread still closing finishes on its own.
  ~kafka_consumer();

  /// See offset_tracker; all of these only take a mutex.
  std::vector<record> take_dispatchable();
  bool ack(const record& r);
  unsigned fail(const record& r);
  std::optional<record> retry(std::int32_t partition, std::uint64_t generation,
                              std::int64_t offset);

  /// Asks the poll thread to commit what was acknowledged, leave the group and end (then
  /// hooks.stopped). Returns at once.
  void stop();

  const consumer_options& options() const;

  kafka_consumer(const kafka_consumer&) = delete;
  kafka_consumer& operator=(const kafka_consumer&) = delete;

  struct shared; // the librdkafka handle, the tracker and what the poll thread shares

private:
  explicit kafka_consumer(std::shared_ptr<shared> s);
  std::shared_ptr<shared> shared_;
  std::thread thread_;
};

} // namespace fw::kafka
