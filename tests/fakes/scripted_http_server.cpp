// Boost 1.74 Asio with -std=c++20 on g++ 12 misses std::exchange otherwise.
#include <utility>

#include "tests/fakes/scripted_http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/net.hpp"

namespace fw::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string percent_decode(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() &&
               std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(const std::string& query) {
  std::map<std::string, std::string> out;
  std::stringstream ss{query};
  for (std::string pair; std::getline(ss, pair, '&');) {
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    out[percent_decode(pair.substr(0, eq))] =
        eq == std::string::npos ? "" : percent_decode(pair.substr(eq + 1));
  }
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

struct scripted_http_server::impl {
  std::uint16_t port = 0;
  mutable std::mutex mutex;  // guards handlers and recorded
  mutable std::condition_variable recorded_cv;
  std::map<std::pair<std::string, std::string>, handler> handlers;
  std::vector<request> recorded;

  // Recreated by every start(): a stopped io_context cannot be reused cleanly.
  std::unique_ptr<asio::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread io_thread;

  void accept();
  response dispatch(const request& req);
};

namespace {

class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, scripted_http_server::impl& server)
      : socket_{std::move(socket)}, timer_{socket_.get_executor()}, server_{server} {}

  void read() {
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec) self->on_request(self->parser_->release());
                     });
  }

 private:
  void on_request(http::request<http::string_body> in) {
    scripted_http_server::request req;
    req.method = std::string{in.method_string()};
    req.target = std::string{in.target()};
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = parse_query(req.target.substr(q + 1));
    for (const auto& field : in) {
      auto [it, inserted] = req.headers.emplace(lower(std::string{field.name_string()}),
                                                std::string{field.value()});
      if (!inserted) it->second += ", " + std::string{field.value()};
    }
    req.body = std::move(in.body());

    auto out = server_.dispatch(req);
    res_ = {};
    res_.version(in.version());
    res_.result(out.status);
    res_.keep_alive(in.keep_alive());
    res_.set(http::field::server, "fw-scripted-http");
    res_.set(http::field::content_type, out.content_type);
    for (const auto& [name, value] : out.headers) res_.insert(name, value);
    res_.body() = std::move(out.body);
    res_.prepare_payload();
    if (out.delay.count() > 0) {
      timer_.expires_after(out.delay);
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->write();
      });
    } else {
      write();
    }
  }

  void write() {
    http::async_write(socket_, res_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (self->res_.keep_alive()) {
                          self->read();
                        } else {
                          beast::error_code ignored;
                          self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
                        }
                      });
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  scripted_http_server::impl& server_;
};

}  // namespace

void scripted_http_server::impl::accept() {
  acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) return;  // closed by stop()
    std::make_shared<session>(std::move(socket), *this)->read();
    accept();
  });
}

scripted_http_server::response scripted_http_server::impl::dispatch(const request& req) {
  handler h;
  {
    std::lock_guard lock{mutex};
    recorded.push_back(req);
    recorded_cv.notify_all();
    auto it = handlers.find({req.method, req.path});
    if (it != handlers.end()) h = it->second;
  }
  // Called without the lock, so a handler may use the server's API.
  if (!h) {
    return {404,
            nlohmann::json{{"error", "no scripted handler"},
                           {"method", req.method},
                           {"path", req.path}}
                .dump()};
  }
  try {
    return h(req);
  } catch (const std::exception& e) {
    return {500, nlohmann::json{{"error", e.what()}}.dump()};
  }
}

scripted_http_server::scripted_http_server(std::uint16_t port)
    : impl_{std::make_unique<impl>()} {
  if (port != 0) {
    impl_->port = port;
    start();
    return;
  }
  for (int attempt = 0;; ++attempt) {
    impl_->port = free_port();
    try {
      start();
      return;
    } catch (const boost::system::system_error&) {
      if (attempt == 4) throw;  // else: someone took the port meanwhile
    }
  }
}

scripted_http_server::~scripted_http_server() { stop(); }

void scripted_http_server::on(const std::string& method, const std::string& path, handler h) {
  std::lock_guard lock{impl_->mutex};
  impl_->handlers[{method, path}] = std::move(h);
}

void scripted_http_server::on(const std::string& method, const std::string& path,
                              response fixed) {
  on(method, path, [fixed = std::move(fixed)](const request&) { return fixed; });
}

void scripted_http_server::remove(const std::string& method, const std::string& path) {
  std::lock_guard lock{impl_->mutex};
  impl_->handlers.erase({method, path});
}

std::vector<scripted_http_server::request> scripted_http_server::requests() const {
  std::lock_guard lock{impl_->mutex};
  return impl_->recorded;
}

std::size_t scripted_http_server::request_count() const {
  std::lock_guard lock{impl_->mutex};
  return impl_->recorded.size();
}

bool scripted_http_server::wait_for_requests(std::size_t count,
                                             std::chrono::milliseconds timeout) const {
  std::unique_lock lock{impl_->mutex};
  return impl_->recorded_cv.wait_for(lock, timeout,
                                     [&] { return impl_->recorded.size() >= count; });
}

void scripted_http_server::clear() {
  std::lock_guard lock{impl_->mutex};
  impl_->recorded.clear();
}

void scripted_http_server::start() {
  if (running()) return;
  auto ioc = std::make_unique<asio::io_context>(1);
  auto acceptor = std::make_unique<tcp::acceptor>(*ioc);
  tcp::endpoint endpoint{asio::ip::address_v4::loopback(), impl_->port};
  acceptor->open(endpoint.protocol());
  // Rebinding right after stop() must work despite TIME_WAIT connections.
  acceptor->set_option(asio::socket_base::reuse_address{true});
  acceptor->bind(endpoint);  // throws if the port is taken
  acceptor->listen();
  impl_->ioc = std::move(ioc);
  impl_->acceptor = std::move(acceptor);
  impl_->accept();
  impl_->io_thread = std::thread{[ioc = impl_->ioc.get()] { ioc->run(); }};
}

void scripted_http_server::stop() {
  if (!running()) return;
  impl_->ioc->stop();
  impl_->io_thread.join();
  // Destroying the io_context destroys the pending handlers, and with them
  // the sessions, which closes every client connection.
  impl_->acceptor.reset();
  impl_->ioc.reset();
}

bool scripted_http_server::running() const { return impl_->ioc != nullptr; }

std::uint16_t scripted_http_server::port() const { return impl_->port; }

std::string scripted_http_server::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}

}  // namespace fw::test
