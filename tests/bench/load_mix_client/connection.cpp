// Boost 1.74 Asio/Beast with -std=c++20 on g++ 12 needs <utility> before any Boost header.
#include <utility>

#include "tests/bench/load_mix_client/connection.hpp"

#include "actors/common/gzip.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <cstddef>

namespace fw::load_mix {

namespace {

constexpr std::size_t max_body_size = 64u << 20;

/// A keep-alive connection the server closed while it was idle: the request never reached it.
bool is_stale(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe;
}

} // namespace

bool decode_body(http::response<http::string_body>& res) {
  auto encoding = res[http::field::content_encoding];
  if (encoding.empty() || beast::iequals(encoding, "identity"))
    return true;
  if (!beast::iequals(encoding, "gzip") && !beast::iequals(encoding, "x-gzip"))
    return false; // the only coding asked for
  auto decoded = fw::gzip_decompress(res.body(), max_body_size);
  if (!decoded)
    return false;
  res.body() = std::move(*decoded);
  return true;
}

bool is_timeout(const error_code& ec) {
  return ec == beast::error::timeout;
}

awaitable<error_code> connection::exchange(const http::request<http::string_body>& req,
                                           clock_type::duration timeout) {
  error_code ec;
  stream_.expires_after(timeout);
  for (int attempt = 0;; ++attempt) {
    const bool reused = stream_.socket().is_open();
    if (!reused) {
      co_await stream_.async_connect(endpoints_, net::redirect_error(use_awaitable, ec));
      if (ec)
        break;
      ++connects_;
      stream_.socket().set_option(tcp::no_delay(true), ec);
    }
    parser_.emplace();
    parser_->body_limit(max_body_size);
    co_await http::async_write(stream_, req, net::redirect_error(use_awaitable, ec));
    if (!ec)
      co_await http::async_read(stream_, buffer_, *parser_, net::redirect_error(use_awaitable, ec));
    if (!ec || !reused || attempt > 0 || !is_stale(ec))
      break;
    close();
  }
  stream_.expires_never(); // an idle connection waits through the think time
  if (ec || !parser_->get().keep_alive())
    close();
  if (!ec)
    response_ = parser_->release();
  co_return ec;
}

void connection::close() {
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
  buffer_.consume(buffer_.size());
}

} // namespace fw::load_mix
