#pragma once
// Internals of http_server: the state shared by the server, its connections and the
// responders (server_core), and one connection (http_session<Stream>, a template over
// the plain socket and the TLS stream so both paths share the code).

#include "gateway/http_server.hpp"
#include "gateway/http_types.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace fw::gateway::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
// Each io_context of the server runs on exactly one thread, so a connection's executor
// serialises its handlers without a strand (a strand costs ~1.3k instructions per request
// and a mutex the CAF workers contend on; see docs/performance.md).
using strand_type = net::io_context::executor_type;
using socket_type = net::basic_stream_socket<tcp, strand_type>;
using timer_type = net::basic_waitable_timer<clock_type, net::wait_traits<clock_type>, strand_type>;
using plain_stream = socket_type;
using tls_stream = boost::beast::ssl_stream<socket_type>;

using log_fn = std::function<void(std::string_view)>;

/// Shared by the server, every session and every responder; outlives the io_context.
struct server_core {
  server_limits limits;
  request_handler handler;
  bool access_log = true;
  log_fn log_info, log_warn, log_debug;
  bool redirect_plain = false; ///< TLS configured: the plain port only redirects
  std::string redirect_host;   ///< fallback host for the redirect Location
  std::uint16_t tls_port = 0;

  std::atomic<std::size_t> open{0};   ///< all open connections
  std::atomic<std::size_t> served{0}; ///< connections counted against max_connections
  std::atomic<std::int64_t> last_overload_warning{0};

  /// Responders only touch the io_context while io_alive; the server waits for
  /// `posting` to drop to 0 after clearing io_alive and before destroying it.
  std::atomic<bool> io_alive{true};
  std::atomic<int> posting{0};

  /// Responses answered off the I/O threads wait here; one posted drain hands a whole
  /// batch to their connections, instead of one post (allocation, scheduler lock,
  /// wake-up) per response. `io` is the first I/O context, where drains run; set before
  /// the first connection, valid while io_alive.
  net::io_context* io = nullptr;
  struct outgoing {
    std::shared_ptr<session_base> session;
    std::uint64_t seq;
    response res;
  };
  std::mutex outbox_mtx;
  std::vector<outgoing> outbox;
  std::vector<outgoing> draining; ///< only touched by drain_responses, on `io`
  /// Queues a response; posts the drain when the outbox was empty.
  static void enqueue_response(const std::shared_ptr<server_core>& core,
                               std::shared_ptr<session_base> s, std::uint64_t seq,
                               response&& res);
  void drain_responses();

  // Registry of live sessions, for stop(). Touched once per connection, never per request.
  std::mutex mtx;
  std::condition_variable cv;
  bool stopping = false; ///< guarded by mtx
  session_base* first = nullptr;
  std::size_t sessions = 0;

  /// Links `s` and counts it as open; returns false when the server is stopping (the
  /// session then closes at once).
  bool add(session_base* s);
  void remove(session_base* s) noexcept;
  /// Calls f(shared_ptr<session_base>) for every live session.
  template <class F>
  void for_each(F&& f);
  /// Waits until no session is left or `deadline` passed; true if none is left.
  bool wait_empty(clock_type::time_point deadline);

  void warn(std::string_view line) const {
    if (log_warn)
      log_warn(line);
  }
  void debug(std::string_view line) const {
    if (log_debug)
      log_debug(line);
  }
};

/// What a responder shares between its copies.
struct responder_state {
  std::weak_ptr<session_base> session;
  std::shared_ptr<server_core> core; ///< null for from_callback responders
  std::function<void(response&&)> callback; ///< set for from_callback responders
  std::uint64_t seq = 0;
  std::atomic<bool> done{false};

  ~responder_state();
  void forward(response&& res) noexcept;
};

enum class session_mode : std::uint8_t { serve, redirect_to_tls, reject_overloaded };

/// The stream-independent part of a connection.
class session_base : public std::enable_shared_from_this<session_base> {
public:
  session_base(std::shared_ptr<server_core> core, strand_type strand, session_mode mode,
               bool counted);
  virtual ~session_base();
  session_base(const session_base&) = delete;
  session_base& operator=(const session_base&) = delete;

  /// Any thread: hands a response for request #seq to the strand (inline when
  /// already running on it).
  static void deliver(std::shared_ptr<session_base> self, std::uint64_t seq, response&& res);
  /// Any thread: graceful stop (close if idle, else close after the current response).
  void notify_stop();
  /// Any thread: close the connection now.
  void notify_force_close();

protected:
  virtual void on_response(std::uint64_t seq, response&& res) = 0;
  virtual void on_stop() = 0;
  virtual void on_force_close() = 0;

  responder make_responder(std::uint64_t seq);

  std::shared_ptr<server_core> core_;
  strand_type strand_;
  session_mode mode_;
  bool accepted_ = false; ///< false when created while the server was stopping

private:
  friend struct server_core;
  void deliver_on_strand(std::uint64_t seq, response&& res);
  bool counted_;
  session_base* prev_ = nullptr;
  session_base* next_ = nullptr;
};

template <class F>
void server_core::for_each(F&& f) {
  // Collect under the lock, call (and release) outside it: dropping the last reference
  // destroys the session, whose destructor takes the lock.
  std::vector<std::shared_ptr<session_base>> live;
  {
    std::lock_guard<std::mutex> lk{mtx};
    live.reserve(sessions);
    for (auto* s = first; s != nullptr; s = s->next_)
      if (auto sp = s->weak_from_this().lock())
        live.push_back(std::move(sp));
  }
  for (auto& sp : live)
    f(std::move(sp));
}

/// One connection. Stream is plain_stream or tls_stream (explicitly instantiated in
/// http_session.cpp).
template <class Stream>
class http_session final : public session_base {
public:
  static constexpr bool is_tls = !std::is_same_v<Stream, socket_type>;

  http_session(std::shared_ptr<server_core> core, session_mode mode, bool counted,
               socket_type&& sock)
    requires(!is_tls);
  http_session(std::shared_ptr<server_core> core, session_mode mode, bool counted,
               socket_type&& sock, net::ssl::context& ssl)
    requires(is_tls);

  /// Starts the session on its strand.
  void start();

private:
  enum class phase : std::uint8_t {
    handshake, ///< TLS handshake
    idle,      ///< waiting for the first byte of a request
    reading,   ///< part of a request received
    handling,  ///< waiting for the handler's answer
    writing,   ///< writing the response
    closing,   ///< graceful close (linger / TLS shutdown)
    closed,
  };

  std::shared_ptr<http_session> self() {
    return std::static_pointer_cast<http_session>(shared_from_this());
  }
  socket_type& socket() { return boost::beast::get_lowest_layer(stream_); }

  void do_start();
  void on_handshake(boost::system::error_code ec);
  void begin_request();
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t n);
  void parse_buffered();
  void on_parse_error(boost::system::error_code ec);
  void send_continue();
  void on_request();
  void on_response(std::uint64_t seq, response&& res) override;
  void send(response&& res, bool close_after);
  void send_error(http::status status, std::string_view error, std::string_view message);
  void on_write(boost::system::error_code ec);
  void graceful_close();
  void linger_read();
  void close_now();
  void on_stop() override;
  void on_force_close() override;

  void set_deadline(clock_type::time_point deadline);
  void on_timer(boost::system::error_code ec);
  void on_deadline();
  void write_access_log();
  response redirect_response();

  Stream stream_;
  timer_type timer_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  response res_;
  /// Serialises res_; kept in the session so a response costs no serializer allocation.
  std::optional<http::response_serializer<text_body>> serializer_;
  clock_type::time_point deadline_ = clock_type::time_point::max();
  clock_type::time_point request_start_{};
  std::uint64_t seq_ = 0;
  unsigned req_version_ = 11;
  phase phase_ = phase::idle;
  bool req_keep_alive_ = true;
  bool req_is_head_ = false;
  bool first_request_ = true;
  bool timer_pending_ = false;
  bool timed_out_ = false;
  bool stop_requested_ = false;
  bool continue_checked_ = false;
  bool continue_pending_ = false;
  std::string remote_;     ///< "ip:port", for logs
  std::string log_method_; ///< reused across requests
  std::string log_target_;
  std::string log_line_;
};

extern template class http_session<plain_stream>;
extern template class http_session<tls_stream>;

} // namespace fw::gateway::detail
