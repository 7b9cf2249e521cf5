#pragma once
// A blocking HTTP client over libcurl for the external services (OpenSky, Telegram,
// Prometheus). One instance owns one curl handle and reuses its connections; it is not
// thread-safe, so each worker thread has its own. Never logs: URLs may carry tokens.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fw {

struct http_reply {
  long status = 0;                           // 0: no HTTP response, see error
  std::string body;
  std::map<std::string, std::string> headers; // lower-case names, last one wins
  std::string error;                          // transport failure (refused, timeout, ...)
  bool timed_out = false;
  std::chrono::steady_clock::duration elapsed{};
};

class http_client {
public:
  http_client();
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// GET (empty `body` and method "GET") or POST etc.; `headers` as "Name: value".
  http_reply request(const std::string& method, const std::string& url,
                     const std::vector<std::string>& headers, const std::string& body,
                     std::chrono::milliseconds timeout);

  /// While `*flag` is true every request in progress is abandoned within about a second
  /// (error "cancelled"): lets a thread blocked in a long poll stop promptly.
  void set_cancel_flag(std::shared_ptr<const std::atomic<bool>> flag) {
    cancel_ = std::move(flag);
  }

  /// Percent-encodes `value` for a query string or form body.
  static std::string escape(const std::string& value);

private:
  void* curl_; // CURL*, kept out of the header
  std::shared_ptr<const std::atomic<bool>> cancel_;
};

} // namespace fw
