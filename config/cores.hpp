#pragma once
// How many CPUs this process may use, for the defaults that scale with cores
// (node.scheduler_threads). std::thread::hardware_concurrency() counts the host's CPUs;
// in a container (a Kubernetes pod with a CPU limit) the process is throttled to its
// cgroup's quota, and a thread per host CPU would only compete for that quota.

#include <filesystem>
#include <optional>
#include <string>

namespace fw {

/// CPUs of the process's affinity mask, capped by its cgroup CPU quota (rounded up);
/// at least 1.
unsigned available_cores();

/// The CPU quota, in CPUs rounded up, that applies to a process whose /proc/self/cgroup
/// reads `proc_self_cgroup`, with the cgroup filesystem mounted at `root`
/// (/sys/fs/cgroup): cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`,
/// of its own cgroup and of every ancestor (the smallest wins). Nothing when unlimited or
/// unknown.
std::optional<unsigned> cgroup_cpu_limit(const std::filesystem::path& root,
                                         const std::string& proc_self_cgroup);

} // namespace fw
