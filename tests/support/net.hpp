#pragma once

// Loopback networking helpers for integration tests.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fw::test {

// A TCP port on 127.0.0.1 that is free right now. Picked below the kernel's
// ephemeral range, so outgoing connections cannot grab it before the server
// binds; never the same port twice in one process.
std::uint16_t free_port();

// Polls pred every step until it is true or timeout passes; returns the last result.
bool wait_until(std::function<bool()> pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds{20});

struct http_result {
  long status = 0;  // 0: no response, see error
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names; repeats joined by ", "
  std::string error;  // curl error if no response
};

// Never follows redirects, never uses a proxy.
http_result http_request(const std::string& method, const std::string& url,
                         const std::string& body = "",
                         const std::vector<std::string>& headers = {},  // "Name: value"
                         std::chrono::milliseconds timeout = std::chrono::seconds{5});

http_result http_get(const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds{5});

// Percent-encodes a query parameter value.
std::string url_encode(const std::string& value);

}  // namespace fw::test
