// bare_beast_server: the baseline for tests/bench/gateway_vs_bare.sh. A minimal
// asynchronous Boost.Beast HTTP/1.1 keep-alive server that answers
// GET /user-manager/ping with the same body shape and headers as the gateway
// ({"message":"pong","node":"<node>","service":"user-manager"}, Server and Content-Type),
// every other path with a JSON 404. It is meant as the honest best case of a Beast server:
// no actors, no routing table, no metrics, no timers, no logging, one chain of
// asynchronous operations per connection (so no strand is needed), buffers and the
// response reused across the requests of a connection.
//
//   bare_beast_server [--host 127.0.0.1] [--port 8090] [--threads 1] [--node NAME]
//                     [--body-file PATH]
//
// --body-file answers every GET, whatever its path, 200 with that file's content (a
// captured flight list, say): the floor of serving a body of that size on this machine.
// The body is set once per connection, so a request copies nothing.
// --port 0 picks a free port. Prints "listening on <host>:<port>" once it accepts.
// Stops on SIGINT/SIGTERM.

// Boost 1.74 Asio/Beast with -std=c++20 on g++ 12 needs <utility> before any Boost header.
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr std::string_view ping_path = "/user-manager/ping";

/// Bodies are built once at start; a request only copies them into the response.
struct answers {
  std::optional<std::string> every_get; ///< 200 for any GET, with --body-file
  std::string pong;        ///< 200 for GET /user-manager/ping
  std::string not_found;   ///< 404 for every other path
  std::string not_allowed; ///< 405 for /user-manager/ping with another method
};

/// Enough for a host name: escapes quotes and backslashes, drops control characters.
std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20)
      out += c;
  }
  return out;
}

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, const answers& a) : socket_(std::move(socket)), answers_(a) {
    res_.set(http::field::server, "flightwatch"); // the gateway's headers
    res_.set(http::field::content_type, "application/json");
    if (answers_.every_get)
      res_.body() = *answers_.every_get;
  }

  void start() {
    do_read();
  }

private:
  void do_read() {
    req_ = {};
    http::async_read(socket_, buffer_, req_,
                     [self = shared_from_this()](error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(error_code ec) {
    if (ec) { // end_of_stream, reset or malformed request: just close
      close();
      return;
    }
    res_.version(req_.version());
    res_.keep_alive(req_.keep_alive());
    const std::string_view target{req_.target().data(), req_.target().size()};
    const auto path = target.substr(0, target.find('?'));
    if (answers_.every_get && req_.method() == http::verb::get) {
      res_.result(http::status::ok); // the body is already there
    } else if (answers_.every_get) { // not for benchmarks: answered, then closed
      res_.result(http::status::method_not_allowed);
      res_.set(http::field::allow, "GET");
      res_.body() = answers_.not_allowed;
      res_.keep_alive(false);
    } else if (path == ping_path && req_.method() == http::verb::get) {
      res_.result(http::status::ok);
      res_.body() = answers_.pong;
      res_.erase(http::field::allow);
    } else if (path == ping_path) {
      res_.result(http::status::method_not_allowed);
      res_.set(http::field::allow, "GET");
      res_.body() = answers_.not_allowed;
    } else {
      res_.result(http::status::not_found);
      res_.body() = answers_.not_found;
      res_.erase(http::field::allow);
    }
    res_.prepare_payload();
    http::async_write(socket_, res_, [self = shared_from_this()](error_code wec, std::size_t) {
      self->on_write(wec);
    });
  }

  void on_write(error_code ec) {
    if (ec || !res_.keep_alive()) {
      close();
      return;
    }
    do_read();
  }

  void close() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  const answers& answers_;
  boost::beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_; ///< reused: only status, body and length change
};

class listener {
public:
  listener(net::io_context& ioc, const tcp::endpoint& ep, const answers& a)
    : ioc_(ioc), acceptor_(ioc), answers_(a) {
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  std::uint16_t port() const {
    return acceptor_.local_endpoint().port();
  }

  void start() {
    acceptor_.async_accept(ioc_, [this](error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted)
        return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec); // as the gateway does
        std::make_shared<session>(std::move(socket), answers_)->start();
      }
      start();
    });
  }

  void stop() {
    error_code ignored;
    acceptor_.close(ignored);
  }

private:
  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  const answers& answers_;
};

[[noreturn]] void usage(const char* why) {
  std::cerr << "bare_beast_server: " << why
            << "\nusage: bare_beast_server [--host H] [--port P] [--threads N] [--node NAME]"
               " [--body-file PATH]\n";
  std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  unsigned long port = 8090;
  unsigned long threads = 1;
  std::string node;
  std::optional<std::string> every_get;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h")
      usage("a baseline HTTP server for benchmarks");
    if (i + 1 >= argc)
      usage("every option needs a value");
    std::string value = argv[++i];
    char* end = nullptr;
    if (arg == "--host") {
      host = value;
    } else if (arg == "--node") {
      node = value;
    } else if (arg == "--port") {
      port = std::strtoul(value.c_str(), &end, 10);
      if (*end != '\0' || value.empty() || port > 65535)
        usage("--port: expected 0 to 65535");
    } else if (arg == "--body-file") {
      std::ifstream in{value, std::ios::binary};
      std::ostringstream content;
      content << in.rdbuf();
      if (!in)
        usage("--body-file: cannot read the file");
      every_get = content.str();
    } else if (arg == "--threads") {
      threads = std::strtoul(value.c_str(), &end, 10);
      if (*end != '\0' || value.empty() || threads < 1 || threads > 64)
        usage("--threads: expected 1 to 64");
    } else {
      usage("unknown option");
    }
  }
  if (node.empty()) { // the gateway's default node name is the host name, too
    char name[256] = {};
    node = gethostname(name, sizeof name - 1) == 0 ? name : "localhost";
  }
  const answers a{
    std::move(every_get),
    R"({"message":"pong","node":")" + json_escape(node) + R"(","service":"user-manager"})",
    R"({"error":"not_found","message":"no route for this path"})",
    R"({"error":"method_not_allowed","message":"use GET for this path"})",
  };

  try {
    net::io_context ioc{static_cast<int>(threads)};
    listener l{ioc, tcp::endpoint{net::ip::make_address(host), static_cast<std::uint16_t>(port)},
               a};
    l.start();
    net::signal_set signals{ioc, SIGINT, SIGTERM};
    signals.async_wait([&](error_code, int) {
      l.stop();
      ioc.stop();
    });
    std::cout << "listening on " << host << ":" << l.port() << std::endl;
    std::vector<std::thread> pool;
    for (unsigned long i = 1; i < threads; ++i)
      pool.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : pool)
      t.join();
  } catch (const std::exception& e) {
    std::cerr << "bare_beast_server: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
