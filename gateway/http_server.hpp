#pragma once
// The gateway's HTTP/1.1 server core: pure Boost.Beast/Asio, no CAF. Requests are
// handed to a request_handler with a responder that may be completed from any thread.

#include "gateway/http_types.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace fw::gateway {

struct server_limits {
  /// Larger bodies get 413 (checked against Content-Length before reading the body).
  std::size_t max_body_bytes = 1 << 20;
  /// Larger request headers (request line included) get 431.
  std::size_t max_header_bytes = 8192;
  /// Connections beyond this are accepted, answered 503 {"error":"overloaded"} and closed.
  std::size_t max_connections = 1024;
  /// Time allowed to read one request (from its first byte; a slow client gets 408 and
  /// is closed) and, separately, for the handler to answer (504 if it does not). Also
  /// bounds the TLS handshake, the first request's first byte, and writing a response.
  std::chrono::milliseconds request_timeout{10000};
  /// How long a keep-alive connection may sit idle between requests before it is closed.
  std::chrono::milliseconds idle_timeout{30000};
};

struct tls_options {
  std::string cert_file; ///< PEM certificate chain
  std::string key_file;  ///< PEM private key
  std::uint16_t port = 8443; ///< 0 = ephemeral
};

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080; ///< 0 = ephemeral
  unsigned io_threads = 1;   ///< 0 is treated as 1
  server_limits limits;
  /// When set, HTTPS is served on tls->port and the plain port answers every request
  /// with 308 to https://<Host header's host, else host>:<tls port><target>.
  std::optional<tls_options> tls;
  /// One line per response through log_info:
  /// `<ip:port> "<METHOD> <target>" <status> <body bytes> <ms with 3 decimals>ms`,
  /// timed from the request's first byte until the response is written; `"- -"` when
  /// the request line could not be parsed. Headers and bodies are never logged.
  bool access_log = true;
  /// Sinks for the caller's logger; each may be empty. Called from I/O threads
  /// (log_debug also from the thread that misuses a responder), so they must be
  /// thread-safe when io_threads > 1 or responders are used from other threads.
  std::function<void(std::string_view line)> log_info;
  std::function<void(std::string_view line)> log_warn;
  std::function<void(std::string_view line)> log_debug;
};

class http_server {
public:
  http_server(server_options opts, request_handler handler);
  /// Calls stop(0ms): in-flight requests are cut off. Call stop(drain) first for a
  /// graceful shutdown. Must not run on one of the server's I/O threads.
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and listens on all configured ports, then starts the I/O threads. Throws
  /// std::runtime_error with a clear message, e.g. "cannot listen on 127.0.0.1:8080:
  /// Address already in use" or "cannot load TLS certificate '...': ...". Throws
  /// std::logic_error when called twice or after stop().
  void start();

  /// Bound plain port (resolves port 0); 0 before start().
  std::uint16_t port() const;
  /// Bound TLS port (resolves port 0); 0 before start() or without TLS.
  std::uint16_t tls_port() const;

  /// Graceful shutdown: stops accepting at once, closes idle keep-alive connections
  /// right away, lets in-flight requests complete (answered with Connection: close)
  /// for up to `drain`, then closes every remaining connection, stops the io_context
  /// and joins the I/O threads. Idempotent and thread-safe. Returns within about
  /// drain + 1 s unless a request handler blocks an I/O thread. When called on one of
  /// the server's own I/O threads it only initiates the shutdown and returns; a later
  /// call (or the destructor) from another thread finishes it.
  void stop(std::chrono::milliseconds drain);

  /// On one of a server's I/O threads: runs `fn` on that thread after the handlers
  /// already queued there, and returns true. Elsewhere: does nothing, returns false.
  /// Lets a request handler batch work that one pass over ready connections produced.
  static bool defer_on_io_thread(std::function<void()> fn);

  /// Currently open connections (including ones being rejected with 503).
  std::size_t active_connections() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace fw::gateway
