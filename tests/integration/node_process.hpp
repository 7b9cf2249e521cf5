#pragma once
// A flightwatch node started as a process for integration tests: its own gateway port
// and SQLite file, killed on destruction if a test leaves it running.

#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace fw::test {

class node_process {
public:
  struct options {
    std::vector<std::string> args;                                  // after the binary
    std::vector<std::pair<std::string, std::string>> env;           // FW_* overrides
    bool wait_ready = true;                                         // wait for /health 200
    std::uint16_t port = 0;                                         // gateway; 0: a free one
    std::string binary = {};  // another flightwatch build (benchmarks); empty: the one under test
  };

  explicit node_process(options opts);

  /// http://127.0.0.1:<gateway port>
  std::string url() const;
  std::uint16_t port() const {
    return port_;
  }
  child_process& process() {
    return *proc_;
  }
  /// Waits until GET /health answers 200.
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds{10});

private:
  temp_dir dir_{"fw-node"};
  std::uint16_t port_;
  std::unique_ptr<child_process> proc_;
};

/// Path of the flightwatch binary under test.
std::string flightwatch_binary();

} // namespace fw::test
