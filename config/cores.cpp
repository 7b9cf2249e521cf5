#include "config/cores.hpp"

#include "config/text_file.hpp"

#include <sched.h>

#include <algorithm>
#include <sstream>
#include <thread>

namespace fw {

namespace {

std::optional<long long> read_number(const std::filesystem::path& file) {
  auto text = read_text_file(file);
  if (!text)
    return std::nullopt;
  try {
    return std::stoll(*text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// CPUs granted by `quota` µs of CPU time per `period` µs, rounded up.
std::optional<unsigned> cpus_of(long long quota, long long period) {
  if (quota <= 0 || period <= 0)
    return std::nullopt; // -1 (v1) or "max" (v2): unlimited
  return static_cast<unsigned>(std::max(1LL, (quota + period - 1) / period));
}

/// cgroup v2 `cpu.max`: "<quota> <period>" or "max <period>".
std::optional<unsigned> v2_limit(const std::filesystem::path& dir) {
  auto text = read_text_file(dir / "cpu.max");
  if (!text)
    return std::nullopt;
  std::istringstream in{*text};
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || quota == "max")
    return std::nullopt;
  try {
    return cpus_of(std::stoll(quota), period);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<unsigned> v1_limit(const std::filesystem::path& dir) {
  auto quota = read_number(dir / "cpu.cfs_quota_us");
  auto period = read_number(dir / "cpu.cfs_period_us");
  if (!quota || !period)
    return std::nullopt;
  return cpus_of(*quota, *period);
}

std::optional<unsigned> smaller(std::optional<unsigned> a, std::optional<unsigned> b) {
  if (a && b)
    return std::min(*a, *b);
  return a ? a : b;
}

/// The smallest limit of `dir` and its ancestors up to `mount` (`dir` is under `mount`).
template <class Limit>
std::optional<unsigned> walk_up(const std::filesystem::path& mount, std::filesystem::path dir,
                                Limit limit) {
  std::optional<unsigned> out;
  for (;;) {
    out = smaller(out, limit(dir));
    if (dir == mount || !dir.has_relative_path() || dir.parent_path() == dir)
      return out;
    dir = dir.parent_path();
  }
}

} // namespace

std::optional<unsigned> cgroup_cpu_limit(const std::filesystem::path& root,
                                         const std::string& proc_self_cgroup) {
  std::optional<unsigned> out;
  std::istringstream lines{proc_self_cgroup};
  for (std::string line; std::getline(lines, line);) {
    // "<id>:<controllers>:<path>"; v2 has id 0 and no controllers.
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos)
      continue;
    const auto controllers = line.substr(first + 1, second - first - 1);
    const auto path = std::filesystem::path{line.substr(second + 1)}.relative_path();
    if (controllers.empty()) {
      // Inside a container with its own cgroup namespace the path is "/" and the
      // container's limits are at the mount point itself.
      out = smaller(out, walk_up(root, path.empty() ? root : root / path, v2_limit));
      continue;
    }
    std::istringstream names{controllers};
    bool cpu = false;
    for (std::string name; std::getline(names, name, ',');)
      cpu = cpu || name == "cpu";
    if (!cpu)
      continue;
    for (const auto& mount : {root / controllers, root / "cpu"}) {
      if (!std::filesystem::exists(mount))
        continue;
      // Without a cgroup namespace a container sees the host's path for its cgroup,
      // which does not exist in its own mount: its limits are at the mount point.
      const auto dir =
        !path.empty() && std::filesystem::exists(mount / path) ? mount / path : mount;
      out = smaller(out, walk_up(mount, dir, v1_limit));
      break;
    }
  }
  return out;
}

unsigned available_cores() {
  unsigned cores = std::thread::hardware_concurrency();
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    cores = static_cast<unsigned>(CPU_COUNT(&set));
  if (auto text = read_text_file("/proc/self/cgroup"))
    if (auto limit = cgroup_cpu_limit("/sys/fs/cgroup", *text))
      cores = cores == 0 ? *limit : std::min(cores, *limit);
  return std::max(1u, cores);
}

} // namespace fw
