#include "tests/support/kafka_broker.hpp"

#include <signal.h>

#include <cstdlib>
#include <stdexcept>

#include "tests/support/net.hpp"

#ifndef FW_KAFKA_TEST_BROKER_PATH
#error "FW_KAFKA_TEST_BROKER_PATH must name the fw-kafka-test-broker binary"
#endif

namespace fw::test {

using namespace std::chrono_literals;

kafka_broker::kafka_broker(std::vector<std::string> topics, int partitions, int brokers) {
  std::string topic_list;
  for (const auto& t : topics) topic_list += (topic_list.empty() ? "" : ",") + t;
  std::vector<std::string> argv{FW_KAFKA_TEST_BROKER_PATH, "--brokers", std::to_string(brokers),
                                "--partitions", std::to_string(partitions)};
  if (!topic_list.empty()) {
    argv.push_back("--topics");
    argv.push_back(topic_list);
  }
  proc_ = std::make_unique<child_process>(child_process::options{argv, {}, {}});

  // The line counts only once complete; the pipe may deliver it in pieces.
  const std::string key = "bootstrap=";
  std::string out;
  auto complete = [&] {
    out = proc_->output();
    auto at = out.find(key);
    return at != std::string::npos && out.find('\n', at) != std::string::npos;
  };
  if (!wait_until(complete, 10s, 10ms))
    throw std::runtime_error("fw-kafka-test-broker did not start:\n" + out);
  auto begin = out.find(key) + key.size();
  bootstrap_ = out.substr(begin, out.find('\n', begin) - begin);
}

// child_process' destructor SIGKILLs it: a memory-only broker has nothing to save.
kafka_broker::~kafka_broker() = default;

void kafka_broker::stop() {
  if (!proc_ || !proc_->running()) return;
  proc_->signal(SIGTERM);
  if (!proc_->wait_for(5s)) proc_->signal(SIGKILL);
}

bool kafka_broker::running() const { return proc_ && proc_->running(); }

std::string kafka_broker::output() const { return proc_ ? proc_->output() : ""; }

}  // namespace fw::test
