// The stream-independent parts of a connection: the responder that completes a request
// from any thread, the server's registry of live sessions, and the batched hand-off of
// responses answered off the I/O threads.
#include "gateway/http_session.hpp"
#include "gateway/responses.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace fw::gateway {

// -- responder -------------------------------------------------------------------------

void responder::operator()(response res) const noexcept {
  if (!state_)
    return;
  if (state_->done.exchange(true, std::memory_order_acq_rel)) {
    try {
      if (state_->core)
        state_->core->debug("responder called again for an answered request; ignored");
    } catch (...) {
    }
    return;
  }
  state_->forward(std::move(res));
}

responder responder::from_callback(std::function<void(response&&)> fn) {
  auto st = std::make_shared<detail::responder_state>();
  st->callback = std::move(fn);
  return responder{std::move(st)};
}

bool responder::answered() const noexcept {
  return state_ && state_->done.load(std::memory_order_acquire);
}

namespace detail {

responder_state::~responder_state() {
  if (done.load(std::memory_order_acquire))
    return;
  try {
    if (core)
      core->warn("request handler dropped a request without answering; answered 500");
    forward(error_response(http::status::internal_server_error, "internal_error",
                           "the request handler dropped the request without answering"));
  } catch (...) {
  }
}

void responder_state::forward(response&& res) noexcept {
  if (callback) {
    try {
      callback(std::move(res));
    } catch (...) {
    }
    return;
  }
  auto& c = *core;
  // Pairs with ~http_server::impl: it clears io_alive, then waits for posting == 0
  // before destroying the io_context (both seq_cst).
  c.posting.fetch_add(1);
  if (c.io_alive.load()) {
    if (auto s = session.lock()) {
      try {
        session_base::deliver(std::move(s), seq, std::move(res));
      } catch (const std::exception& e) {
        c.warn(std::string{"cannot deliver a response: "} + e.what());
      } catch (...) {
      }
    }
  }
  c.posting.fetch_sub(1);
}

// -- registry ----------------------------------------------------------------------------

bool server_core::add(session_base* s) {
  std::lock_guard<std::mutex> lk{mtx};
  s->next_ = first;
  if (first != nullptr)
    first->prev_ = s;
  first = s;
  ++sessions;
  open.fetch_add(1, std::memory_order_relaxed);
  return !stopping;
}

void server_core::remove(session_base* s) noexcept {
  std::lock_guard<std::mutex> lk{mtx};
  if (s->prev_ != nullptr)
    s->prev_->next_ = s->next_;
  else
    first = s->next_;
  if (s->next_ != nullptr)
    s->next_->prev_ = s->prev_;
  --sessions;
  open.fetch_sub(1, std::memory_order_relaxed);
  if (sessions == 0)
    cv.notify_all();
}

bool server_core::wait_empty(clock_type::time_point deadline) {
  std::unique_lock<std::mutex> lk{mtx};
  return cv.wait_until(lk, deadline, [this] { return sessions == 0; });
}

// -- session_base ----------------------------------------------------------------------

session_base::session_base(std::shared_ptr<server_core> core, strand_type strand,
                           session_mode mode, bool counted)
  : core_(std::move(core)), strand_(std::move(strand)), mode_(mode), counted_(counted) {
  accepted_ = core_->add(this);
}

session_base::~session_base() {
  if (counted_)
    core_->served.fetch_sub(1, std::memory_order_relaxed);
  core_->remove(this);
}

void session_base::deliver(std::shared_ptr<session_base> self, std::uint64_t seq,
                           response&& res) {
  if (self->strand_.running_in_this_thread()) {
    self->on_response(seq, std::move(res));
    return;
  }
  auto core = self->core_;
  server_core::enqueue_response(core, std::move(self), seq, std::move(res));
}

void session_base::deliver_on_strand(std::uint64_t seq, response&& res) {
  // Runs on an I/O thread outside any strand: dispatch executes inline when the
  // connection's strand is free, and queues behind it otherwise.
  net::dispatch(strand_, [self = shared_from_this(), seq, res = std::move(res)]() mutable {
    self->on_response(seq, std::move(res));
  });
}

void server_core::enqueue_response(const std::shared_ptr<server_core>& core,
                                   std::shared_ptr<session_base> s, std::uint64_t seq,
                                   response&& res) {
  bool first;
  {
    std::lock_guard<std::mutex> lk{core->outbox_mtx};
    first = core->outbox.empty();
    core->outbox.push_back({std::move(s), seq, std::move(res)});
  }
  if (first)
    net::post(*core->io, [core] { core->drain_responses(); });
}

void server_core::drain_responses() {
  // `draining` and `outbox` trade buffers, so neither reallocates once grown.
  {
    std::lock_guard<std::mutex> lk{outbox_mtx};
    draining.swap(outbox);
  }
  // Emptied even when a delivery throws, so nothing is handed over twice.
  struct clear_after {
    std::vector<outgoing>& batch;
    ~clear_after() { batch.clear(); }
  } guard{draining};
  for (auto& out : draining)
    out.session->deliver_on_strand(out.seq, std::move(out.res));
}

void session_base::notify_stop() {
  net::post(strand_, [self = shared_from_this()] { self->on_stop(); });
}

void session_base::notify_force_close() {
  net::post(strand_, [self = shared_from_this()] { self->on_force_close(); });
}

responder session_base::make_responder(std::uint64_t seq) {
  auto st = std::make_shared<responder_state>();
  st->session = weak_from_this();
  st->core = core_;
  st->seq = seq;
  return responder{std::move(st)};
}

} // namespace detail

} // namespace fw::gateway
