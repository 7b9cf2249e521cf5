#include "tests/support/postgres_server.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/child_process.hpp"
#include "tests/support/net.hpp"

#ifndef FW_PG_BIN_DIR
#define FW_PG_BIN_DIR "/usr/lib/postgresql/15/bin"
#endif

namespace fw::test {
namespace {

std::string bin(const std::string& tool) {
  const char* dir = std::getenv("FLIGHTWATCH_PG_BIN_DIR");  // override for other installs
  return std::string{dir && *dir ? dir : FW_PG_BIN_DIR} + "/" + tool;
}

// PostgreSQL refuses to run as root: as root, run the tools as "postgres".
std::vector<std::string> as_postgres(std::vector<std::string> argv) {
  if (geteuid() != 0) return argv;
  std::vector<std::string> out{"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

command_result run(std::vector<std::string> argv, const std::filesystem::path& cwd,
                   std::chrono::milliseconds timeout = std::chrono::seconds{60}) {
  // cwd: runuser keeps ours, which "postgres" may not be allowed to enter.
  return run_command({as_postgres(std::move(argv)), {{"LC_ALL", "C.UTF-8"}}, cwd.string()},
                     timeout);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in{p};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

postgres_server::postgres_server() = default;

postgres_server::~postgres_server() {
  if (dir_ && running())
    run({bin("pg_ctl"), "-D", data_dir_.string(), "-m", "immediate", "-w", "stop"},
        dir_->path(), std::chrono::seconds{20});
}

void postgres_server::start() {
  if (dir_) throw std::logic_error("postgres_server: already started");
  dir_ = std::make_unique<temp_dir>("fw-pg-");
  data_dir_ = dir_->path() / "data";
  if (geteuid() == 0) {
    passwd* pw = getpwnam("postgres");
    if (!pw) throw std::runtime_error("postgres_server: no 'postgres' user to run as");
    if (chown(dir_->path().c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("postgres_server: chown of temp dir failed");
  }
  auto init = run({bin("initdb"), "-D", data_dir_.string(), "-U", "postgres", "-A", "trust",
                   "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"},
                  dir_->path());
  if (init.exit_code != 0) throw std::runtime_error("initdb failed:\n" + init.output);

  // Another process may take the free port before the server binds: retry.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_port();
    if (pg_ctl_start()) break;
    if (attempt == 2)
      throw std::runtime_error("pg_ctl start failed:\n" + read_file(dir_->path() / "log"));
  }
  auto db = run({bin("createdb"), "-h", "127.0.0.1", "-p", std::to_string(port_), "-U",
                 "postgres", "flightwatch"},
                dir_->path());
  if (db.exit_code != 0) throw std::runtime_error("createdb failed:\n" + db.output);
}

bool postgres_server::pg_ctl_start() {
  auto p = std::to_string(port_);
  auto opts = "-p " + p + " -k " + dir_->path().string() +
              " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
              " -c full_page_writes=off";
  auto r = run({bin("pg_ctl"), "-D", data_dir_.string(), "-l", (dir_->path() / "log").string(),
                "-o", opts, "-w", "-t", "30", "start"},
               dir_->path());
  return r.exit_code == 0;
}

void postgres_server::stop() {
  if (!dir_ || !running()) return;
  auto r = run({bin("pg_ctl"), "-D", data_dir_.string(), "-m", "fast", "-w", "stop"},
               dir_->path());
  if (r.exit_code != 0) throw std::runtime_error("pg_ctl stop failed:\n" + r.output);
}

void postgres_server::start_again() {
  if (!dir_) throw std::logic_error("postgres_server: start() first");
  if (running()) return;  // pg_ctl start on a running cluster fails
  if (!pg_ctl_start())
    throw std::runtime_error("pg_ctl start (again) failed:\n" + read_file(dir_->path() / "log"));
}

bool postgres_server::running() const {
  if (!dir_) return false;
  // Exit code 0: running; 3: not running.
  return run({bin("pg_ctl"), "-D", data_dir_.string(), "status"}, dir_->path(),
             std::chrono::seconds{10})
             .exit_code == 0;
}

std::string postgres_server::url() const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/flightwatch";
}

}  // namespace fw::test
