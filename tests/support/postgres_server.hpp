#pragma once

// A throw-away PostgreSQL 15 cluster on 127.0.0.1 for integration tests,
// with database "flightwatch" and trust auth for user "postgres".

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/temp_dir.hpp"

namespace fw::test {

class postgres_server {
 public:
  postgres_server();
  ~postgres_server();  // stops the server and removes its data

  postgres_server(const postgres_server&) = delete;
  postgres_server& operator=(const postgres_server&) = delete;

  // initdb + start on a free port + create database; throws std::runtime_error
  // with the server log on failure.
  void start();
  // Stops the server, keeping the data dir (simulates "database lost").
  void stop();
  // Starts the same data dir on the same port again.
  void start_again();
  bool running() const;

  std::uint16_t port() const { return port_; }
  // "postgresql://postgres@127.0.0.1:PORT/flightwatch"
  std::string url() const;

 private:
  bool pg_ctl_start();

  std::unique_ptr<temp_dir> dir_;
  std::filesystem::path data_dir_;
  std::uint16_t port_ = 0;
};

}  // namespace fw::test
