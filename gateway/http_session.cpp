// One HTTP/1.1 connection: a hand-rolled read loop over a reused flat_buffer (so the
// server sees the first byte of every request and can tell idle from reading), one
// request in flight, and a single lazily re-armed timer per connection for all
// deadlines. The stream-independent parts (responder, registry) live in
// http_server.cpp.
#include "gateway/http_session.hpp"

#include "gateway/responses.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>

namespace fw::gateway::detail {

namespace beast = boost::beast;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

/// Host part of a Host header value ("example.com:80" -> "example.com", "[::1]:80" ->
/// "[::1]"); empty when absent or when it holds characters a hostname cannot have.
std::string_view host_only(std::string_view host) {
  if (host.empty())
    return {};
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos)
      return {};
    host = host.substr(0, close + 1);
    return host.find_first_not_of("[]:.0123456789abcdefABCDEF") == std::string_view::npos
             ? host
             : std::string_view{};
  }
  host = host.substr(0, host.find(':'));
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
      return {};
  return host;
}

std::string_view sv(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

void append_number(std::string& out, std::uint64_t value) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, res.ptr);
}

std::string millis(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

} // namespace

// -- construction and start ---------------------------------------------------------

template <class Stream>
http_session<Stream>::http_session(std::shared_ptr<server_core> core, session_mode mode,
                                   bool counted, socket_type&& sock)
  requires(!is_tls)
  : session_base(std::move(core), sock.get_executor(), mode, counted),
    stream_(std::move(sock)),
    timer_(strand_) {
}

template <class Stream>
http_session<Stream>::http_session(std::shared_ptr<server_core> core, session_mode mode,
                                   bool counted, socket_type&& sock, net::ssl::context& ssl)
  requires(is_tls)
  : session_base(std::move(core), sock.get_executor(), mode, counted),
    stream_(std::move(sock), ssl),
    timer_(strand_) {
}

template <class Stream>
void http_session<Stream>::start() {
  net::dispatch(strand_, [self = self()] { self->do_start(); });
}

template <class Stream>
void http_session<Stream>::do_start() {
  if (!accepted_) { // the server began stopping while this connection was accepted
    close_now();
    return;
  }
  if (core_->access_log || core_->log_warn) {
    error_code ec;
    auto ep = socket().remote_endpoint(ec);
    if (ec) {
      remote_ = "-";
    } else {
      auto addr = ep.address().to_string();
      remote_ = ep.address().is_v6() ? "[" + addr + "]" : addr;
      remote_ += ':';
      append_number(remote_, ep.port());
    }
  }
  if constexpr (is_tls) {
    phase_ = phase::handshake;
    set_deadline(clock_type::now() + core_->limits.request_timeout);
    stream_.async_handshake(net::ssl::stream_base::server,
                            [self = self()](error_code ec) { self->on_handshake(ec); });
  } else {
    begin_request();
  }
}

template <class Stream>
void http_session<Stream>::on_handshake(error_code ec) {
  if (phase_ == phase::closed)
    return;
  if (ec) {
    core_->debug("TLS handshake with " + remote_ + " failed: " + ec.message());
    close_now();
    return;
  }
  begin_request();
}

// -- reading -----------------------------------------------------------------------

template <class Stream>
void http_session<Stream>::begin_request() {
  const auto& limits = core_->limits;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
    std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
  parser_->body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
  parser_->eager(true);
  continue_checked_ = false;
  timed_out_ = false;
  req_is_head_ = false;
  log_method_.clear();
  log_target_.clear();
  if (buffer_.size() != 0) { // pipelined: the next request is already here
    phase_ = phase::reading;
    request_start_ = clock_type::now();
    set_deadline(request_start_ + limits.request_timeout);
    parse_buffered();
    return;
  }
  if (stop_requested_) {
    close_now();
    return;
  }
  phase_ = phase::idle;
  set_deadline(clock_type::now()
               + (first_request_ ? limits.request_timeout : limits.idle_timeout));
  do_read();
}

template <class Stream>
void http_session<Stream>::do_read() {
  stream_.async_read_some(buffer_.prepare(beast::read_size(buffer_, 65536)),
                          [self = self()](error_code ec, std::size_t n) {
                            self->on_read(ec, n);
                          });
}

template <class Stream>
void http_session<Stream>::on_read(error_code ec, std::size_t n) {
  if (phase_ == phase::closed)
    return;
  buffer_.commit(n);
  if (timed_out_) {
    timed_out_ = false;
    send_error(http::status::request_timeout, "request_timeout",
               "the request was not received within "
                 + millis(core_->limits.request_timeout));
    return;
  }
  if (ec) { // peer closed or reset; a partial request is dropped
    close_now();
    return;
  }
  if (phase_ == phase::idle) {
    phase_ = phase::reading;
    request_start_ = clock_type::now();
    set_deadline(request_start_ + core_->limits.request_timeout);
  }
  parse_buffered();
}

template <class Stream>
void http_session<Stream>::parse_buffered() {
  error_code ec;
  while (buffer_.size() != 0) {
    auto n = parser_->put(buffer_.data(), ec);
    buffer_.consume(n);
    if (ec == http::error::need_more)
      break;
    if (ec) {
      on_parse_error(ec);
      return;
    }
    if (parser_->is_done()) {
      on_request();
      return;
    }
    if (n == 0)
      break;
  }
  if (!continue_checked_ && parser_->is_header_done()) {
    continue_checked_ = true;
    const auto& req = parser_->get();
    if (req.version() >= 11 && beast::iequals(req[http::field::expect], "100-continue")) {
      send_continue();
      return;
    }
  }
  do_read();
}

template <class Stream>
void http_session<Stream>::send_continue() {
  static constexpr std::string_view msg = "HTTP/1.1 100 Continue\r\n\r\n";
  continue_pending_ = true;
  net::async_write(stream_, net::buffer(msg.data(), msg.size()),
                   [self = self()](error_code ec, std::size_t) {
                     self->continue_pending_ = false;
                     if (self->phase_ == phase::closed)
                       return;
                     if (ec) {
                       self->close_now();
                       return;
                     }
                     self->do_read();
                   });
}

template <class Stream>
void http_session<Stream>::on_parse_error(error_code ec) {
  req_version_ = 11;
  req_is_head_ = false;
  if (parser_->is_header_done()) {
    const auto& req = parser_->get();
    req_version_ = req.version();
    req_is_head_ = req.method() == http::verb::head;
    if (core_->access_log) {
      log_method_.assign(sv(req.method_string()));
      log_target_.assign(sv(req.target()));
    }
  }
  const auto& limits = core_->limits;
  if (ec == http::error::body_limit)
    send_error(http::status::payload_too_large, "payload_too_large",
               "the request body exceeds the limit of " + std::to_string(limits.max_body_bytes)
                 + " bytes");
  else if (ec == http::error::header_limit)
    send_error(http::status::request_header_fields_too_large, "header_too_large",
               "the request header exceeds the limit of "
                 + std::to_string(limits.max_header_bytes) + " bytes");
  else
    send_error(http::status::bad_request, "bad_request",
               "malformed HTTP request: " + ec.message());
}

// -- handling ----------------------------------------------------------------------

template <class Stream>
void http_session<Stream>::on_request() {
  auto& req = parser_->get();
  req_version_ = req.version();
  req_keep_alive_ = req.keep_alive();
  req_is_head_ = req.method() == http::verb::head;
  first_request_ = false;
  if (core_->access_log) {
    log_method_.assign(sv(req.method_string()));
    log_target_.assign(sv(req.target()));
  }
  phase_ = phase::handling;
  set_deadline(clock_type::now() + core_->limits.request_timeout);
  switch (mode_) {
    case session_mode::reject_overloaded:
      send_error(http::status::service_unavailable, "overloaded",
                 "the server has too many open connections; retry later");
      return;
    case session_mode::redirect_to_tls:
      send(redirect_response(), false);
      return;
    case session_mode::serve:
      break;
  }
  const auto seq = ++seq_;
  try {
    // A responder dropped during unwinding answers 500 by itself.
    core_->handler(parser_->release(), make_responder(seq));
  } catch (const std::exception& e) {
    core_->warn(std::string{"request handler threw: "} + e.what());
  } catch (...) {
    core_->warn("request handler threw a non-standard exception");
  }
}

template <class Stream>
response http_session<Stream>::redirect_response() {
  const auto& req = parser_->get();
  auto host = host_only(sv(req[http::field::host]));
  std::string location = "https://";
  location += host.empty() ? std::string_view{core_->redirect_host} : host;
  location += ':';
  append_number(location, core_->tls_port);
  location += sv(req.target());
  auto res = error_response(http::status::permanent_redirect, "https_required",
                            "this server is only served over HTTPS: " + location,
                            req_version_, true);
  res.set(http::field::location, location);
  return res;
}

template <class Stream>
void http_session<Stream>::on_response(std::uint64_t seq, response&& res) {
  if (phase_ != phase::handling || seq != seq_) {
    core_->debug("response for an already answered, timed out or closed request ignored");
    return;
  }
  send(std::move(res), false);
}

// -- writing -----------------------------------------------------------------------

template <class Stream>
void http_session<Stream>::send_error(http::status status, std::string_view error,
                                      std::string_view message) {
  send(error_response(status, error, message, req_version_, false), true);
}

template <class Stream>
void http_session<Stream>::send(response&& res, bool close_after) {
  const bool handler_keep = res.keep_alive();
  if (res.version() != req_version_)
    res.version(req_version_);
  const bool keep = handler_keep && !close_after && req_keep_alive_ && !stop_requested_;
  if (res.keep_alive() != keep)
    res.keep_alive(keep);
  if (!res.has_content_length() && !res.chunked())
    res.prepare_payload();
  if (req_is_head_ && !res.body().empty())
    res.body().clear(); // HEAD: Content-Length as for GET, no body
  if (res.find(http::field::server) == res.end())
    res.set(http::field::server,
            boost::beast::string_view{server_name.data(), server_name.size()});
  res_ = std::move(res);
  phase_ = phase::writing;
  set_deadline(clock_type::now() + core_->limits.request_timeout);
  serializer_.emplace(res_);
  http::async_write(stream_, *serializer_, [self = self()](error_code ec, std::size_t) {
    self->on_write(ec);
  });
}

template <class Stream>
void http_session<Stream>::on_write(error_code ec) {
  if (phase_ == phase::closed)
    return;
  if (ec) {
    close_now();
    return;
  }
  write_access_log();
  const bool keep = res_.keep_alive();
  serializer_.reset();
  res_ = response{};
  if (!keep) {
    graceful_close();
    return;
  }
  begin_request();
}

template <class Stream>
void http_session<Stream>::write_access_log() {
  if (!core_->access_log || !core_->log_info)
    return;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now()
                                                                  - request_start_)
              .count();
  auto& line = log_line_;
  line.clear();
  line += remote_;
  line += " \"";
  line += log_method_.empty() ? std::string_view{"-"} : std::string_view{log_method_};
  line += ' ';
  line += log_target_.empty() ? std::string_view{"-"} : std::string_view{log_target_};
  line += "\" ";
  append_number(line, res_.result_int());
  line += ' ';
  append_number(line, res_.body().size());
  line += ' ';
  append_number(line, static_cast<std::uint64_t>(us / 1000));
  line += '.';
  auto frac = static_cast<unsigned>(us % 1000);
  line += static_cast<char>('0' + frac / 100);
  line += static_cast<char>('0' + frac / 10 % 10);
  line += static_cast<char>('0' + frac % 10);
  line += "ms";
  core_->log_info(line);
}

// -- closing -----------------------------------------------------------------------

template <class Stream>
void http_session<Stream>::graceful_close() {
  phase_ = phase::closing;
  // Bounded: the timer hard-closes a peer that neither reads nor closes.
  set_deadline(clock_type::now() + std::min<std::chrono::milliseconds>(
                                     core_->limits.request_timeout, 1000ms));
  if constexpr (is_tls) {
    stream_.async_shutdown([self = self()](error_code) { self->close_now(); });
  } else {
    // Half-close, then drain what the peer still sends (e.g. the rest of an oversized
    // body) so that closing does not reset the connection before it read our answer.
    error_code ec;
    socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      close_now();
      return;
    }
    buffer_.clear();
    linger_read();
  }
}

template <class Stream>
void http_session<Stream>::linger_read() {
  stream_.async_read_some(buffer_.prepare(4096), [self = self()](error_code ec, std::size_t) {
    if (self->phase_ == phase::closed)
      return;
    if (ec) {
      self->close_now();
      return;
    }
    self->linger_read();
  });
}

template <class Stream>
void http_session<Stream>::close_now() {
  if (phase_ == phase::closed)
    return;
  phase_ = phase::closed;
  error_code ec;
  socket().close(ec);
  timer_.cancel();
}

template <class Stream>
void http_session<Stream>::on_stop() {
  stop_requested_ = true;
  // Idle keep-alive connections, pending handshakes and connections that already sent
  // their last response go at once; the others finish their current request first.
  if (phase_ == phase::idle || phase_ == phase::handshake || phase_ == phase::closing)
    close_now();
}

template <class Stream>
void http_session<Stream>::on_force_close() {
  stop_requested_ = true;
  close_now();
}

// -- deadlines: one timer, re-armed lazily -------------------------------------------

template <class Stream>
void http_session<Stream>::set_deadline(clock_type::time_point deadline) {
  deadline_ = deadline;
  if (!timer_pending_) {
    timer_pending_ = true;
    timer_.expires_at(deadline);
    timer_.async_wait([self = self()](error_code ec) { self->on_timer(ec); });
  } else if (deadline < timer_.expiry()) {
    timer_.expires_at(deadline); // cancels the wait; on_timer re-arms for deadline_
  }
  // A later deadline needs nothing: the timer fires early and re-arms.
}

template <class Stream>
void http_session<Stream>::on_timer(error_code) {
  timer_pending_ = false;
  if (phase_ == phase::closed)
    return;
  if (clock_type::now() < deadline_) {
    timer_pending_ = true;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = self()](error_code ec) { self->on_timer(ec); });
    return;
  }
  on_deadline();
}

template <class Stream>
void http_session<Stream>::on_deadline() {
  switch (phase_) {
    case phase::reading:
      if (!continue_pending_ && !timed_out_) {
        // Cancel the read; on_read answers 408 and closes.
        timed_out_ = true;
        error_code ec;
        socket().cancel(ec);
        set_deadline(clock_type::now() + core_->limits.request_timeout);
        return;
      }
      close_now();
      return;
    case phase::handling:
      core_->warn("request handler did not answer within "
                  + millis(core_->limits.request_timeout) + "; answered 504");
      send(error_response(http::status::gateway_timeout, "gateway_timeout",
                          "the request was not answered within "
                            + millis(core_->limits.request_timeout),
                          req_version_, true),
           false);
      return;
    case phase::handshake:
    case phase::idle:
    case phase::writing:
    case phase::closing:
      close_now();
      return;
    case phase::closed:
      return;
  }
}

template class http_session<plain_stream>;
template class http_session<tls_stream>;

} // namespace fw::gateway::detail
