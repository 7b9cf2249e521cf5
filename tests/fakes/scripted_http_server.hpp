#pragma once

// A tiny scripted HTTP/1.1 server on 127.0.0.1 that stands in for external
// services (OpenSky, Telegram) in tests. Handlers are keyed by method and
// path (without query); everything received is recorded. One background io
// thread; Boost stays out of this header.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fw::test {

class scripted_http_server {
 public:
  struct request {
    std::string method;  // "GET"
    std::string target;  // "/api/states/all?lamin=45.8"
    std::string path;    // "/api/states/all"
    std::map<std::string, std::string> query;    // percent-decoded; last one wins
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
  };

  // Constructors rather than an aggregate: partial brace-init of an aggregate
  // trips -Wmissing-field-initializers (-Wextra -Werror).
  struct response {
    unsigned status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers
    std::chrono::milliseconds delay{0};  // answer late (timeouts); other connections go on

    response() = default;
    response(unsigned status_code, std::string body_text = {},
             std::string type = "application/json")
        : status{status_code}, body{std::move(body_text)}, content_type{std::move(type)} {}
    response& with_header(std::string name, std::string value) {
      headers.emplace_back(std::move(name), std::move(value));
      return *this;
    }
    response& with_delay(std::chrono::milliseconds d) {
      delay = d;
      return *this;
    }
  };

  using handler = std::function<response(const request&)>;

  // Starts listening at once; port 0 picks a free port.
  explicit scripted_http_server(std::uint16_t port = 0);
  ~scripted_http_server();  // stops

  scripted_http_server(const scripted_http_server&) = delete;
  scripted_http_server& operator=(const scripted_http_server&) = delete;

  // Registers or replaces a handler; allowed while running. Handlers run on
  // the io thread (so they must not call stop()); one that throws yields a
  // 500. Unmatched requests get 404 with a JSON body naming the path.
  void on(const std::string& method, const std::string& path, handler h);
  void on(const std::string& method, const std::string& path, response fixed);
  void remove(const std::string& method, const std::string& path);

  std::vector<request> requests() const;  // copy, in arrival order
  std::size_t request_count() const;
  // True once at least count requests arrived (since the last clear()).
  bool wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const;
  void clear();

  // Closes the listener and every open connection (simulates an outage);
  // handlers and recorded requests are kept.
  void stop();
  // Listens again on the same port.
  void start();
  bool running() const;

  std::uint16_t port() const;
  std::string url() const;  // "http://127.0.0.1:PORT"

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace fw::test
