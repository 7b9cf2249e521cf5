#pragma once

// A real Prometheus (/usr/bin/prometheus) on a free 127.0.0.1 port that
// scrapes the given targets as job "flightwatch", with a fresh TSDB.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fw::test {

class prometheus_server {
 public:
  // targets: "host:port". Starts and waits for /-/ready; throws
  // std::runtime_error with Prometheus' output on failure.
  explicit prometheus_server(std::vector<std::string> targets,
                             std::chrono::milliseconds scrape_interval = std::chrono::seconds{1},
                             std::string metrics_path = "/metrics");
  ~prometheus_server();

  prometheus_server(const prometheus_server&) = delete;
  prometheus_server& operator=(const prometheus_server&) = delete;

  void stop();
  // Same port, config and TSDB as before.
  void start_again();
  bool running() const;

  std::uint16_t port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:PORT"

  // Parsed reply of GET /api/v1/query (also on a PromQL error: "status":"error").
  // Throws std::runtime_error if there is no JSON reply.
  nlohmann::json query(const std::string& promql) const;
  // The value of the first sample of an instant-vector or scalar result, if any.
  std::optional<double> query_value(const std::string& promql) const;
  // Output of the current (or last) Prometheus process, for failure messages.
  std::string output() const;

 private:
  void launch();

  temp_dir dir_{"fw-prom-"};
  std::uint16_t port_ = 0;
  std::unique_ptr<child_process> proc_;
};

}  // namespace fw::test
