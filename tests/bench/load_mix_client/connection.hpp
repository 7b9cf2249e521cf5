#pragma once
// load_mix_client's HTTP: one simulated user's keep-alive HTTP/1.1 connection, and the
// decoding of gzip bodies.

// Boost 1.74 Asio/Beast with -std=c++20 on g++ 12 needs <utility> before any Boost header.
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <optional>

namespace fw::load_mix {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using clock_type = std::chrono::steady_clock;
using net::awaitable;
using net::use_awaitable;

// -- HTTP ---------------------------------------------------------------------------------------

/// Replaces an encoded body by its content, as Locust's client does; false if it cannot.
bool decode_body(http::response<http::string_body>& res);

bool is_timeout(const error_code& ec);

/// One user's keep-alive connection, opened when a request needs it.
class connection {
public:
  connection(net::any_io_executor ex, const tcp::resolver::results_type& endpoints,
             std::uint64_t& connects)
    : stream_(std::move(ex)), endpoints_(endpoints), connects_(connects) {}

  /// Sends `req` and reads the whole answer (then in response()), connecting first if the
  /// connection is closed, all within `timeout`. A reused connection that turns out closed
  /// by the server is reconnected and the request sent once more, as Locust's client does.
  awaitable<error_code> exchange(const http::request<http::string_body>& req,
                                 clock_type::duration timeout);

  http::response<http::string_body>& response() {
    return response_;
  }

  void close();

private:
  beast::tcp_stream stream_;
  const tcp::resolver::results_type& endpoints_;
  std::uint64_t& connects_; ///< of the whole run: more than one per user means reconnects
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

} // namespace fw::load_mix
