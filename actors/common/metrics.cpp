#include "actors/common/metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace fw {

namespace {

prometheus::MetricFamily gauge_family(std::string name, std::string help, double value,
                                      prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter)
    metric.counter.value = value;
  else
    metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
  return family;
}

int count_open_fds() {
  int count = 0;
  if (auto* dir = opendir("/proc/self/fd")) {
    while (auto* entry = readdir(dir))
      if (entry->d_name[0] != '.')
        ++count;
    closedir(dir);
  }
  return count > 0 ? count - 1 : 0; // minus the one opendir holds
}

/// process_* metrics as the Prometheus client libraries name them, from /proc/self.
void add_process_metrics(std::vector<prometheus::MetricFamily>& out) {
  std::ifstream stat_file{"/proc/self/stat"};
  std::string stat;
  std::getline(stat_file, stat);
  // Fields after the command name (which may hold spaces) start past the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos)
    return;
  std::istringstream fields{stat.substr(close + 2)};
  std::string field;
  double utime = 0, stime = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
  for (int i = 3; fields >> field; ++i) {
    switch (i) {
      case 14: utime = std::stod(field); break;
      case 15: stime = std::stod(field); break;
      case 22: start_ticks = std::stod(field); break;
      case 23: vsize = std::stod(field); break;
      case 24: rss_pages = std::stod(field); break;
      default: break;
    }
  }
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  double boot_time = 0;
  std::ifstream proc_stat{"/proc/stat"};
  for (std::string line; std::getline(proc_stat, line);)
    if (line.rfind("btime ", 0) == 0)
      boot_time = std::stod(line.substr(6));
  out.push_back(gauge_family("process_cpu_seconds_total", "Total user and system CPU time",
                             (utime + stime) / ticks, prometheus::MetricType::Counter));
  out.push_back(gauge_family("process_resident_memory_bytes", "Resident memory size",
                             rss_pages * page));
  out.push_back(gauge_family("process_virtual_memory_bytes", "Virtual memory size", vsize));
  out.push_back(gauge_family("process_start_time_seconds", "Start time since the epoch",
                             boot_time + start_ticks / ticks));
  out.push_back(gauge_family("process_open_fds", "Open file descriptors", count_open_fds()));
}

} // namespace

node_metrics::node_metrics(std::string node)
  : node_(std::move(node)), registry_(std::make_shared<prometheus::Registry>()) {
}

std::string node_metrics::scrape(std::string_view service) const {
  auto families = registry_->Collect();
  if (!service.empty()) {
    for (auto& family : families)
      std::erase_if(family.metric, [service](const prometheus::ClientMetric& m) {
        return std::none_of(m.label.begin(), m.label.end(), [service](const auto& l) {
          return l.name == "service" && l.value == service;
        });
      });
    std::erase_if(families, [](const auto& family) { return family.metric.empty(); });
  }
  add_process_metrics(families);
  return prometheus::TextSerializer{}.Serialize(families);
}

} // namespace fw
