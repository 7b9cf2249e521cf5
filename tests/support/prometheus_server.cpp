#include "tests/support/prometheus_server.hpp"

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "tests/support/net.hpp"

#ifndef FW_PROMETHEUS_PATH
#define FW_PROMETHEUS_PATH "/usr/bin/prometheus"
#endif

namespace fw::test {

using namespace std::chrono_literals;

prometheus_server::prometheus_server(std::vector<std::string> targets,
                                     std::chrono::milliseconds scrape_interval,
                                     std::string metrics_path) {
  // scrape_timeout must not exceed the interval (default timeout is 10 s).
  auto interval = std::to_string(scrape_interval.count()) + "ms";
  std::ofstream yml{dir_.path() / "prometheus.yml"};
  yml << "global:\n"
      << "  scrape_interval: " << interval << "\n"
      << "  scrape_timeout: " << interval << "\n"
      << "  evaluation_interval: " << interval << "\n"
      << "scrape_configs:\n"
      << "  - job_name: flightwatch\n"
      << "    metrics_path: " << metrics_path << "\n"
      << "    static_configs:\n"
      << "      - targets: [";
  for (std::size_t i = 0; i < targets.size(); ++i)
    yml << (i ? ", " : "") << '"' << targets[i] << '"';
  yml << "]\n";
  yml.close();

  for (int attempt = 0;; ++attempt) {
    port_ = free_port();
    try {
      launch();
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 2) throw;  // else: port taken meanwhile, try another
    }
  }
}

prometheus_server::~prometheus_server() {
  try {
    stop();
  } catch (...) {
  }
}

void prometheus_server::launch() {
  const char* env = std::getenv("FLIGHTWATCH_PROMETHEUS_PATH");
  std::string exe = env && *env ? env : FW_PROMETHEUS_PATH;
  proc_ = std::make_unique<child_process>(child_process::options{
      {exe, "--config.file=" + (dir_.path() / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir_.path() / "tsdb").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
      {},
      dir_.path().string()});
  bool ready = wait_until(
      [&] { return !proc_->running() || http_get(url() + "/-/ready", 1s).status == 200; }, 20s,
      50ms);
  if (!ready || !proc_->running())
    throw std::runtime_error("prometheus did not become ready:\n" + proc_->output());
}

void prometheus_server::stop() {
  if (!proc_ || !proc_->running()) return;
  proc_->signal(SIGTERM);  // clean shutdown, so start_again() finds a consistent TSDB
  if (!proc_->wait_for(15s)) {
    proc_->signal(SIGKILL);
    proc_->wait_for(5s);
  }
}

void prometheus_server::start_again() {
  if (running()) return;
  launch();
}

bool prometheus_server::running() const { return proc_ && proc_->running(); }

std::string prometheus_server::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

nlohmann::json prometheus_server::query(const std::string& promql) const {
  auto r = http_get(url() + "/api/v1/query?query=" + url_encode(promql));
  if (r.status == 0) throw std::runtime_error("prometheus query failed: " + r.error);
  auto reply = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded())
    throw std::runtime_error("prometheus query: no JSON reply (HTTP " +
                             std::to_string(r.status) + "): " + r.body);
  return reply;
}

std::optional<double> prometheus_server::query_value(const std::string& promql) const {
  auto reply = query(promql);
  if (reply.value("status", "") != "success") return std::nullopt;
  const auto& data = reply.at("data");
  const auto& result = data.at("result");
  // Samples come as [timestamp, "value"].
  auto type = data.value("resultType", "");
  if (type == "vector" && !result.empty())
    return std::stod(result.at(0).at("value").at(1).get<std::string>());
  if (type == "scalar") return std::stod(result.at(1).get<std::string>());
  return std::nullopt;
}

std::string prometheus_server::output() const { return proc_ ? proc_->output() : ""; }

}  // namespace fw::test
