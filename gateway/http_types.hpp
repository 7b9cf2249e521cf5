#pragma once

// Boost 1.74 Asio/Beast with -std=c++20 on g++ 12 needs <utility> before any Boost header.
#include <utility>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "gateway/text_body.hpp"

#include <functional>
#include <memory>

namespace fw::gateway {

namespace http = boost::beast::http;

using request = http::request<http::string_body>;
using response = http::response<text_body>;

namespace detail {
struct responder_state;
class session_base;
} // namespace detail

/// Completes exactly one HTTP request.
///
/// A `responder` is a cheap, copyable handle (one shared_ptr) that the request
/// handler receives together with the request. It may be called synchronously
/// (inside the handler) or later from any thread (e.g. a CAF worker). The
/// response is handed to the connection's strand, which writes it.
///
/// Semantics:
///  * The first call delivers the response; any further call (through this or
///    any other copy) is ignored and reported through `server_options::log_debug`.
///  * If the last copy is destroyed without having been called, the request is
///    answered with `500 {"error":"internal_error",...}` at that moment.
///  * If nobody answers within `server_limits::request_timeout`, the server
///    answers `504 {"error":"gateway_timeout",...}` itself; a later call is then
///    ignored.
///  * Answering after the connection was closed or the server was stopped or
///    destroyed is harmless: the response is dropped.
///
/// The server fixes up the response before writing: HTTP version and
/// keep-alive follow the request (a handler may force `Connection: close`),
/// Content-Length is set when missing, and a `Server: flightwatch` header is
/// added when missing.
class responder {
public:
  /// An empty responder; calling it does nothing.
  responder() noexcept = default;

  /// Delivers `res` as the answer to the request. Thread-safe. Never throws.
  void operator()(response res) const noexcept;

  /// True once a response was delivered (by any copy) for this request.
  bool answered() const noexcept;

  /// True if this responder refers to a request.
  explicit operator bool() const noexcept { return state_ != nullptr; }

  /// A responder not tied to a connection: the first call runs `fn` on the calling
  /// thread; dropping every copy uncalled runs it with the 500 response. For unit
  /// tests of handlers/routers and for adapters.
  static responder from_callback(std::function<void(response&&)> fn);

private:
  friend class detail::session_base;
  explicit responder(std::shared_ptr<detail::responder_state> state) noexcept
    : state_(std::move(state)) {}

  std::shared_ptr<detail::responder_state> state_;
};

/// Called on a connection's I/O thread for every complete request. Must not
/// block; answer through `done` (now or later, from any thread).
using request_handler = std::function<void(request&& req, responder done)>;

} // namespace fw::gateway
