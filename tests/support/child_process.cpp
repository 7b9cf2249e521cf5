#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace fw::test {
namespace {

std::vector<std::string> merged_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e && *e; ++e) {
    std::string entry{*e};
    auto eq = entry.find('=');
    if (eq != std::string::npos) vars[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [name, value] : extra) vars[name] = value;
  std::vector<std::string> out;
  for (const auto& [name, value] : vars) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

child_process::child_process(options opts) {
  if (opts.argv.empty()) throw std::invalid_argument("child_process: empty argv");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  out_fd_ = fds[0];
  wake_fd_ = eventfd(0, EFD_CLOEXEC);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  // Our own sockets (test servers) are often not CLOEXEC; a child holding
  // them would keep ports busy after the test stopped the server.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!opts.working_dir.empty())
    posix_spawn_file_actions_addchdir_np(&actions, opts.working_dir.c_str());

  // Own process group, so the destructor can kill helpers it started too.
  // Ignored or blocked signals would be inherited across exec: reset them.
  sigset_t defaults, empty;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2})
    sigaddset(&defaults, sig);
  sigemptyset(&empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);

  auto env = merged_environment(opts.env);
  auto envp = c_strings(env);
  auto argv = c_strings(opts.argv);
  int rc = posix_spawnp(&pid_, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  if (rc != 0) {
    close(out_fd_);
    close(wake_fd_);
    throw std::system_error(rc, std::generic_category(),
                            "child_process: cannot start " + opts.argv[0]);
  }
  reader_ = std::thread([this] { drain(); });
}

child_process::~child_process() {
  if (!poll_exit()) kill(-pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  // A grandchild that left our group may still hold the pipe: don't wait
  // for EOF, tell the reader to quit.
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
  reader_.join();
  close(out_fd_);
  close(wake_fd_);
}

pid_t child_process::pid() const { return pid_; }

// Observes the exit without reaping (WNOWAIT): the zombie keeps pid and
// process group id ours until the destructor, so kill() cannot hit a
// recycled pid.
std::optional<int> child_process::poll_exit() {
  std::lock_guard lock{exit_mutex_};
  if (exit_code_) return exit_code_;
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid == 0)
    return std::nullopt;
  exit_code_ = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  return exit_code_;
}

bool child_process::running() { return !poll_exit(); }

void child_process::signal(int sig) {
  if (running()) kill(pid_, sig);
}

std::optional<int> child_process::wait_for(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto step = std::chrono::milliseconds{1};
  while (true) {
    if (auto code = poll_exit()) return code;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(step);
    step = std::min(step * 2, std::chrono::milliseconds{20});
  }
}

std::string child_process::output() const {
  std::lock_guard lock{mutex_};
  return output_;
}

bool child_process::wait_for_output(const std::string& needle,
                                    std::chrono::milliseconds timeout) {
  std::unique_lock lock{mutex_};
  cv_.wait_for(lock, timeout, [&] {
    return eof_ || output_.find(needle) != std::string::npos;
  });
  return output_.find(needle) != std::string::npos;
}

bool child_process::wait_for_eof(std::chrono::milliseconds timeout) {
  std::unique_lock lock{mutex_};
  return cv_.wait_for(lock, timeout, [&] { return eof_; });
}

void child_process::drain() {
  char buf[4096];
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;
    auto n = read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard lock{mutex_};
    output_.append(buf, static_cast<std::size_t>(n));
    cv_.notify_all();
  }
  std::lock_guard lock{mutex_};
  eof_ = true;
  cv_.notify_all();
}

command_result run_command(child_process::options opts,
                           std::chrono::milliseconds timeout) {
  child_process proc{std::move(opts)};
  command_result result;
  result.exit_code = proc.wait_for(timeout);
  // The pipe closes right after exit unless a grandchild kept it open.
  proc.wait_for_eof(std::chrono::milliseconds{200});
  result.output = proc.output();
  return result;
}

}  // namespace fw::test
