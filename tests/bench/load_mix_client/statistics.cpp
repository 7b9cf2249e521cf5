// Boost 1.74 Asio/Beast with -std=c++20 on g++ 12 needs <utility> before any Boost header.
#include <utility>

#include "tests/bench/load_mix_client/statistics.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>

namespace fw::load_mix {

namespace {

constexpr auto history_window = std::chrono::seconds{10};

// Percentiles as Locust reports them, in per ten thousand.
constexpr std::array<unsigned, 11> percentiles = {5000, 6600, 7500, 8000, 9000, 9500,
                                                  9800, 9900, 9990, 9999, 10000};
constexpr std::string_view percentile_columns = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";

/// Beast 1.74 speaks boost::string_view.
std::string_view method_name(route r) {
  auto name = http::to_string(info(r).method);
  return {name.data(), name.size()};
}

/// The percentile columns of sorted latencies ("N/A" each when there are none).
std::string percentile_fields(const std::vector<float>& sorted) {
  std::string out;
  for (auto p : percentiles) {
    out += ',';
    out += sorted.empty() ? "N/A" : ms(percentile(sorted, p));
  }
  return out;
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos)
    return std::string{s};
  std::string out = "\"";
  for (char c : s) {
    if (c == '"')
      out += '"';
    out += c;
  }
  return out + '"';
}

/// One row of PREFIX_stats.csv: Locust's columns, times in ms.
std::string stats_row(std::string_view type, std::string_view name, std::vector<float> latencies,
                      std::uint64_t failures, std::uint64_t content_bytes, double duration_s) {
  std::sort(latencies.begin(), latencies.end());
  const auto n = latencies.size();
  double sum = 0;
  for (auto l : latencies)
    sum += l;
  auto row = std::string{type} + ',' + csv_field(name) + ',' + std::to_string(n) + ',' +
             std::to_string(failures) + ',';
  row += n ? ms(percentile(latencies, 5000)) + ',' + ms(sum / n) + ',' + ms(latencies.front()) +
                 ',' + ms(latencies.back())
           : std::string{"0,0,0,0"};
  row += ',' + fixed2(n ? double(content_bytes) / n : 0) + ',' + fixed2(n / duration_s) + ',' +
         fixed2(failures / duration_s);
  return row + percentile_fields(latencies) + '\n';
}

} // namespace

void statistics::record(route r, float at_s, float latency_us, std::size_t content_size,
                        std::optional<failure> f) {
  auto& s = per_route[static_cast<std::size_t>(r)];
  s.latencies_us.push_back(latency_us);
  s.content_bytes += content_size;
  content_bytes += content_size;
  all.push_back({at_s, latency_us, f.has_value()});
  if (!f)
    return;
  ++s.failures;
  ++failures;
  auto& tally = s.by_kind[static_cast<std::size_t>(f->kind)];
  if (tally.occurrences++ == 0)
    tally.first_message = std::move(f->message);
}

float percentile(const std::vector<float>& sorted, unsigned per_ten_thousand) {
  auto rank = (sorted.size() * per_ten_thousand + 9999) / 10000; // ceil, in integers
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

std::string fixed2(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  return buf;
}

std::string ms(double us) {
  return fixed2(us / 1000);
}

// -- Locust's CSV files -------------------------------------------------------------------------

std::string stats_csv(const statistics& stats, double duration_s) {
  std::string out = "Type,Name,Request Count,Failure Count,Median Response Time,"
                    "Average Response Time,Min Response Time,Max Response Time,"
                    "Average Content Size,Requests/s,Failures/s," +
                    std::string{percentile_columns} + '\n';
  // Locust's order: by name, then method.
  std::vector<route> order;
  for (std::size_t i = 0; i < routes.size(); ++i)
    if (!stats.per_route[i].latencies_us.empty())
      order.push_back(static_cast<route>(i));
  std::sort(order.begin(), order.end(), [](route a, route b) {
    return std::pair{info(a).name, info(a).method} < std::pair{info(b).name, info(b).method};
  });
  for (auto r : order) {
    const auto& s = stats.per_route[static_cast<std::size_t>(r)];
    out += stats_row(method_name(r), info(r).name, s.latencies_us, s.failures, s.content_bytes,
                     duration_s);
  }
  std::vector<float> all;
  all.reserve(stats.all.size());
  for (const auto& s : stats.all)
    all.push_back(s.latency_us);
  return out + stats_row("", "Aggregated", std::move(all), stats.failures, stats.content_bytes,
                         duration_s);
}

std::string failures_csv(const statistics& stats) {
  struct row {
    route r;
    const failure_tally* tally;
  };
  std::vector<row> rows;
  for (std::size_t i = 0; i < routes.size(); ++i)
    for (const auto& t : stats.per_route[i].by_kind)
      if (t.occurrences > 0)
        rows.push_back({static_cast<route>(i), &t});
  std::stable_sort(rows.begin(), rows.end(), [](const row& a, const row& b) {
    return a.tally->occurrences > b.tally->occurrences;
  });
  std::string out = "Method,Name,Error,Occurrences\n";
  for (const auto& r : rows)
    out += std::string{method_name(r.r)} + ',' + csv_field(info(r.r).name) + ',' +
           csv_field(r.tally->first_message) + ',' + std::to_string(r.tally->occurrences) + '\n';
  return out;
}

std::string history_csv_header() {
  return "Timestamp,User Count,Type,Name,Requests/s,Failures/s," + std::string{percentile_columns} +
         ",Total Request Count,Total Failure Count,Total Median Response Time,"
         "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
         "Total Average Content Size\n";
}

std::string history_row(const statistics& stats, int active_users, float now_s) {
  const auto& all = stats.all;
  const float window_s = std::min(now_s, std::chrono::duration<float>(history_window).count());
  auto first = std::lower_bound(all.begin(), all.end(), now_s - window_s,
                                [](const sample& s, float t) { return s.at_s < t; });
  std::vector<float> window;
  std::uint64_t window_failures = 0;
  for (auto it = first; it != all.end(); ++it) {
    window.push_back(it->latency_us);
    window_failures += it->failed;
  }
  std::sort(window.begin(), window.end());

  std::vector<float> total;
  total.reserve(all.size());
  double sum = 0;
  float min = std::numeric_limits<float>::max(), max = 0;
  for (const auto& s : all) {
    total.push_back(s.latency_us);
    sum += s.latency_us;
    min = std::min(min, s.latency_us);
    max = std::max(max, s.latency_us);
  }
  std::string median = "0";
  if (!total.empty()) {
    auto mid = total.begin() + static_cast<std::ptrdiff_t>((total.size() + 1) / 2 - 1);
    std::nth_element(total.begin(), mid, total.end()); // the nearest-rank median
    median = ms(*mid);
  }
  const auto n = all.size();
  const double per_s = window_s > 0 ? 1 / double(window_s) : 0;
  return std::to_string(std::time(nullptr)) + ',' + std::to_string(active_users) + ",,Aggregated," +
         fixed2(window.size() * per_s) + ',' + fixed2(window_failures * per_s) +
         percentile_fields(window) + ',' + std::to_string(n) + ',' +
         std::to_string(stats.failures) + ',' + median + ',' + ms(n ? sum / n : 0) + ',' +
         ms(n ? min : 0) + ',' + ms(max) + ',' + fixed2(n ? double(stats.content_bytes) / n : 0) +
         '\n';
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out)
    std::cerr << "load_mix_client: cannot write " << path << "\n";
  return bool(out);
}

} // namespace fw::load_mix
