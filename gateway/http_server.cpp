// http_server: listeners, I/O threads and graceful stop. The stream-independent
// connection parts (responder, session registry, response hand-off) are in
// connection_core.cpp, the per-connection protocol logic in http_session.cpp.
#include "gateway/http_server.hpp"

#include "gateway/http_session.hpp"
#include "gateway/responses.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

#include <openssl/ssl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

namespace fw::gateway {

using boost::system::error_code;
using namespace std::chrono_literals;


// -- http_server -------------------------------------------------------------------------

namespace {

using namespace detail;
using acceptor_type = net::basic_socket_acceptor<tcp, strand_type>;

std::string host_for_url(const std::string& host) {
  if (host.empty() || host == "0.0.0.0" || host == "::")
    return "localhost";
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

void require_readable(const std::string& path, const char* what) {
  if (path.empty())
    throw std::runtime_error(std::string{"TLS is enabled but no "} + what + " file is set");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    throw std::runtime_error(std::string{"cannot read TLS "} + what + " file '" + path
                             + "': " + std::strerror(errno));
  std::fclose(f);
}

} // namespace

namespace {

/// The io_context the calling thread runs, if it is one of a server's I/O threads.
thread_local net::io_context* current_context = nullptr;

} // namespace

bool http_server::defer_on_io_thread(std::function<void()> fn) {
  if (current_context == nullptr)
    return false;
  net::post(*current_context, std::move(fn));
  return true;
}

struct http_server::impl {
  struct listener {
    acceptor_type acceptor;
    timer_type retry;
    bool tls;
    listener(net::io_context& ioc, bool is_tls)
      : acceptor(ioc.get_executor()), retry(acceptor.get_executor()), tls(is_tls) {}
  };
  enum class state { created, running, stopping, stopped };

  server_options opts;
  std::shared_ptr<server_core> core = std::make_shared<server_core>();
  std::optional<net::ssl::context> ssl;
  /// One single-threaded io_context per I/O thread; connections are spread over them.
  std::vector<std::unique_ptr<net::io_context>> pool;
  std::size_t next_context = 0; ///< round robin, touched by the accepting thread only
  std::vector<std::unique_ptr<listener>> listeners;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::atomic<std::uint16_t> plain_port{0};
  std::atomic<std::uint16_t> secure_port{0};
  std::mutex state_mtx;
  state st = state::created;

  impl(server_options o, request_handler handler) : opts(std::move(o)) {
    opts.io_threads = std::max(1u, opts.io_threads);
    core->limits = opts.limits;
    core->handler = std::move(handler);
    core->access_log = opts.access_log;
    core->log_info = opts.log_info;
    core->log_warn = opts.log_warn;
    core->log_debug = opts.log_debug;
    core->redirect_plain = opts.tls.has_value();
    core->redirect_host = host_for_url(opts.host);
    for (unsigned i = 0; i < opts.io_threads; ++i)
      pool.push_back(std::make_unique<net::io_context>(1));
    core->io = pool.front().get();
  }

  ~impl() {
    stop(0ms);
    core->io_alive.store(false);
    while (core->posting.load() != 0)
      std::this_thread::yield();
    listeners.clear();
    {
      // Queued responses hold sessions, whose sockets must go before the io_context.
      std::vector<server_core::outgoing> queued;
      std::lock_guard<std::mutex> lk{core->outbox_mtx};
      queued.swap(core->outbox);
    }
    pool.clear(); // destroys whatever handlers (and sessions) are still queued
    ssl.reset();
    core->handler = nullptr; // responders may keep core alive; release the handler now
  }

  void load_tls() {
    const auto& t = *opts.tls;
    require_readable(t.cert_file, "certificate");
    require_readable(t.key_file, "private key");
    net::ssl::context ctx{net::ssl::context::tls_server};
    ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2
                    | net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1
                    | net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    error_code ec;
    ctx.use_certificate_chain_file(t.cert_file, ec);
    if (ec)
      throw std::runtime_error("cannot load TLS certificate '" + t.cert_file
                               + "': " + ec.message());
    ctx.use_private_key_file(t.key_file, net::ssl::context::pem, ec);
    if (ec)
      throw std::runtime_error("cannot load TLS private key '" + t.key_file
                               + "': " + ec.message());
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
      throw std::runtime_error("TLS private key '" + t.key_file
                               + "' does not match certificate '" + t.cert_file + "'");
    ssl.emplace(std::move(ctx));
  }

  void open_listener(std::uint16_t port, bool tls) {
    const auto where = (opts.host.find(':') != std::string::npos ? "[" + opts.host + "]"
                                                                  : opts.host)
                       + ":" + std::to_string(port);
    auto fail = [&](const std::string& why) {
      throw std::runtime_error("cannot listen on " + where + ": " + why);
    };
    error_code ec;
    tcp::endpoint ep;
    auto addr = net::ip::make_address(opts.host, ec);
    if (!ec) {
      ep = tcp::endpoint{addr, port};
    } else {
      tcp::resolver resolver{*pool.front()};
      auto results = resolver.resolve(opts.host, std::to_string(port),
                                      tcp::resolver::passive, ec);
      if (ec || results.empty())
        fail("cannot resolve host: " + (ec ? ec.message() : std::string{"no address"}));
      ep = results.begin()->endpoint();
    }
    auto l = std::make_unique<listener>(*pool.front(), tls);
    if (l->acceptor.open(ep.protocol(), ec); ec)
      fail(ec.message());
    l->acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (l->acceptor.bind(ep, ec); ec)
      fail(ec.message());
    if (l->acceptor.listen(net::socket_base::max_listen_connections, ec); ec)
      fail(ec.message());
    auto bound = l->acceptor.local_endpoint(ec).port();
    (tls ? secure_port : plain_port).store(bound);
    listeners.push_back(std::move(l));
  }

  void start() {
    std::lock_guard<std::mutex> lk{state_mtx};
    if (st != state::created)
      throw std::logic_error("http_server::start() called twice or after stop()");
    try {
      if (opts.tls)
        load_tls();
      open_listener(opts.port, false);
      if (opts.tls)
        open_listener(opts.tls->port, true);
    } catch (...) {
      listeners.clear();
      ssl.reset();
      plain_port = 0;
      secure_port = 0;
      throw;
    }
    core->tls_port = secure_port.load();
    for (auto& l : listeners)
      do_accept(*l);
    for (auto& ctx : pool) {
      work.emplace_back(ctx->get_executor());
      threads.emplace_back([this, c = ctx.get()] { run_thread(*c); });
    }
    st = state::running;
  }

  void run_thread(net::io_context& ctx) {
    current_context = &ctx;
    for (;;) {
      try {
        ctx.run();
        return;
      } catch (const std::exception& e) {
        core->warn(std::string{"uncaught exception on an HTTP I/O thread: "} + e.what());
      } catch (...) {
        core->warn("uncaught non-standard exception on an HTTP I/O thread");
      }
    }
  }

  void do_accept(listener& l) {
    auto& ctx = *pool[next_context++ % pool.size()];
    l.acceptor.async_accept(ctx.get_executor(), [this, &l](error_code ec, socket_type sock) {
      on_accept(l, ec, std::move(sock));
    });
  }

  void on_accept(listener& l, error_code ec, socket_type sock) {
    if (ec == net::error::operation_aborted || !l.acceptor.is_open())
      return;
    if (ec) { // e.g. EMFILE: back off instead of spinning
      core->warn("accept failed: " + ec.message() + "; retrying in 100 ms");
      l.retry.expires_after(100ms);
      l.retry.async_wait([this, &l](error_code wec) {
        if (!wec && l.acceptor.is_open())
          do_accept(l);
      });
      return;
    }
    sock.set_option(tcp::no_delay(true), ec);
    const bool counted = core->served.fetch_add(1, std::memory_order_relaxed)
                         < core->limits.max_connections;
    if (!counted) {
      core->served.fetch_sub(1, std::memory_order_relaxed);
      warn_overloaded();
    }
    auto mode = !counted                         ? session_mode::reject_overloaded
                : (!l.tls && core->redirect_plain) ? session_mode::redirect_to_tls
                                                   : session_mode::serve;
    try {
      if (l.tls)
        std::make_shared<http_session<tls_stream>>(core, mode, counted, std::move(sock), *ssl)
          ->start();
      else
        std::make_shared<http_session<plain_stream>>(core, mode, counted, std::move(sock))
          ->start();
    } catch (const std::exception& e) {
      core->warn(std::string{"cannot start a connection: "} + e.what());
    }
    do_accept(l);
  }

  void warn_overloaded() {
    auto now = clock_type::now().time_since_epoch().count();
    auto last = core->last_overload_warning.load(std::memory_order_relaxed);
    if (now - last < std::chrono::duration_cast<clock_type::duration>(1s).count()
        || !core->last_overload_warning.compare_exchange_strong(last, now))
      return;
    core->warn("connection limit of " + std::to_string(core->limits.max_connections)
               + " reached; answering new connections with 503");
  }

  void stop(std::chrono::milliseconds drain) {
    std::lock_guard<std::mutex> lk{state_mtx};
    if (st == state::created) {
      st = state::stopped;
      return;
    }
    if (st == state::stopped)
      return;
    if (st == state::running) {
      st = state::stopping;
      {
        std::lock_guard<std::mutex> reg{core->mtx};
        core->stopping = true;
      }
      for (auto& l : listeners)
        net::post(l->acceptor.get_executor(), [lp = l.get()] {
          error_code ec;
          lp->acceptor.close(ec);
          lp->retry.cancel();
        });
      core->for_each([](std::shared_ptr<session_base> s) { s->notify_stop(); });
    }
    if (std::any_of(pool.begin(), pool.end(),
                    [](auto& c) { return c->get_executor().running_in_this_thread(); })) {
      core->warn("http_server::stop() called on an I/O thread; shutdown initiated only");
      return;
    }
    if (!core->wait_empty(clock_type::now() + drain)) {
      core->for_each([](std::shared_ptr<session_base> s) { s->notify_force_close(); });
      core->wait_empty(clock_type::now() + 1s);
    }
    work.clear();
    for (auto& ctx : pool)
      ctx->stop();
    for (auto& t : threads)
      t.join();
    threads.clear();
    st = state::stopped;
  }
};

http_server::http_server(server_options opts, request_handler handler)
  : impl_(std::make_unique<impl>(std::move(opts), std::move(handler))) {
}

http_server::~http_server() = default;

void http_server::start() {
  impl_->start();
}

std::uint16_t http_server::port() const {
  return impl_->plain_port.load();
}

std::uint16_t http_server::tls_port() const {
  return impl_->secure_port.load();
}

void http_server::stop(std::chrono::milliseconds drain) {
  impl_->stop(drain);
}

std::size_t http_server::active_connections() const {
  return impl_->core->open.load(std::memory_order_relaxed);
}

} // namespace fw::gateway
