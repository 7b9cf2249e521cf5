#pragma once

// A child process for integration tests: own process group, stdout+stderr
// captured, killed (whole group) on destruction so a failing test leaves
// no server behind.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fw::test {

struct command_result {
  std::optional<int> exit_code;  // nullopt: timed out (and was killed)
  std::string output;
};

class child_process {
 public:
  struct options {
    std::vector<std::string> argv;  // argv[0] is looked up in PATH
    std::vector<std::pair<std::string, std::string>> env;  // added to (or overriding) the inherited environment
    std::string working_dir;  // empty: inherit
  };

  // Throws std::system_error if the program cannot be started.
  explicit child_process(options opts);
  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const;
  bool running();
  // Sends sig to the process itself (not its group); no-op once it exited.
  void signal(int sig);
  // Exit code, or 128+signal if killed; nullopt on timeout.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  // All captured stdout+stderr so far.
  std::string output() const;
  // False on timeout, or early once the output is closed without the needle.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout);

 private:
  friend command_result run_command(options opts, std::chrono::milliseconds timeout);
  bool wait_for_eof(std::chrono::milliseconds timeout);
  std::optional<int> poll_exit();
  void drain();

  pid_t pid_ = -1;
  int out_fd_ = -1;   // read end of the stdout/stderr pipe
  int wake_fd_ = -1;  // eventfd that tells the drain thread to quit
  std::mutex exit_mutex_;  // guards exit_code_
  std::optional<int> exit_code_;
  mutable std::mutex mutex_;  // guards output_ and eof_
  std::condition_variable cv_;
  std::string output_;
  bool eof_ = false;
  std::thread reader_;
};

// Runs a short command to completion (initdb, pg_ctl, ...).
command_result run_command(child_process::options opts,
                           std::chrono::milliseconds timeout);

}  // namespace fw::test
