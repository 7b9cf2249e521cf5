#pragma once

// Runs fw-kafka-test-broker (librdkafka's mock cluster) as a child process.
// Memory only, random ports: every instance is a fresh, empty cluster.

#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.hpp"

namespace fw::test {

class kafka_broker {
 public:
  static std::vector<std::string> default_topics() {
    return {"to-alert-system", "to-notifier", "sla_breach"};
  }

  // Starts the broker and waits for its bootstrap line; throws
  // std::runtime_error with the broker's output on failure.
  explicit kafka_broker(std::vector<std::string> topics = default_topics(),
                        int partitions = 4, int brokers = 1);
  ~kafka_broker();  // kills the broker if still running

  kafka_broker(const kafka_broker&) = delete;
  kafka_broker& operator=(const kafka_broker&) = delete;

  // "127.0.0.1:PORT[,...]", for bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }
  // SIGTERM, then SIGKILL if it does not exit in time. All data is lost.
  void stop();
  bool running() const;
  std::string output() const;

 private:
  std::unique_ptr<child_process> proc_;
  std::string bootstrap_;
};

}  // namespace fw::test
