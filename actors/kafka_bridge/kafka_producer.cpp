#include "actors/kafka_bridge/kafka_producer.hpp"

#include "actors/common/log.hpp"
#include "actors/kafka_bridge/rdkafka_util.hpp"

#include <prometheus/gauge.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>

namespace fw::kafka {

using clock_type = std::chrono::steady_clock;

struct kafka_producer::shared {
  producer_options opts;
  producer_hooks hooks;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> done{false};
  std::atomic<bool> probe_now{false};

  mutable std::mutex mtx; // guards rk against its destruction, and the health fields
  rd_kafka_t* rk = nullptr;
  bool ready = false;
  std::string detail;
  std::string last_error; // of the error callback, for the health detail
  bool reported = false;  // readiness known (and logged) once

  // Only touched on the poll thread (callbacks run inside rd_kafka_poll / flush).
  std::vector<delivery_report> batch;
  bool fatal_reported = false;

  void hand_over() {
    if (batch.empty())
      return;
    auto out = std::move(batch);
    batch.clear();
    hooks.delivered(std::move(out));
  }

  void set_ready(bool now_ready, std::string why) {
    bool was;
    bool first;
    {
      std::lock_guard guard{mtx};
      was = ready;
      first = !reported;
      reported = true;
      ready = now_ready;
      detail = std::move(why);
      if (now_ready)
        last_error.clear();
    }
    if (opts.reachable)
      opts.reachable->Set(now_ready ? 1 : 0);
    if ((was || first) && !now_ready)
      log::warn("topics", "no Kafka broker reachable at ", opts.brokers, " (", last_error_copy(),
                "); events are buffered, up to ", opts.buffer_max_messages);
    else if (!was && now_ready)
      log::info("topics", "Kafka broker reachable at ", opts.brokers);
  }

  std::string last_error_copy() const {
    std::lock_guard guard{mtx};
    return last_error;
  }

  /// A metadata request with a short timeout: the cheapest question a broker answers.
  void probe() {
    const rd_kafka_metadata_t* md = nullptr;
    auto err = rd_kafka_metadata(rk, 0, nullptr, &md, static_cast<int>(opts.probe_timeout.count()));
    if (!err) {
      rd_kafka_metadata_destroy(md);
      set_ready(true, {});
      return;
    }
    {
      std::lock_guard guard{mtx};
      if (last_error.empty())
        last_error = error_text(err);
    }
    set_ready(false, "no Kafka broker reachable at " + opts.brokers + ": " + last_error_copy());
  }

  void update_gauges() {
    if (opts.queue_depth)
      opts.queue_depth->Set(rd_kafka_outq_len(rk));
  }
};

namespace {

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* s = static_cast<kafka_producer::shared*>(opaque);
  delivery_report r;
  r.id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(msg->_private));
  r.error = msg->err;
  if (msg->err)
    r.error_text = error_text(msg->err);
  s->batch.push_back(std::move(r));
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* s = static_cast<kafka_producer::shared*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char text[512];
    rd_kafka_fatal_error(rk, text, sizeof text);
    log::error("topics", "Kafka producer failed for good: ", text);
    if (!s->fatal_reported && s->hooks.fatal) {
      s->fatal_reported = true;
      s->hooks.fatal(text);
    }
    return;
  }
  log::debug("topics", "Kafka producer: ", rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)),
             ": ", reason);
  {
    std::lock_guard guard{s->mtx};
    s->last_error = reason;
  }
  // Every known broker disconnected: the probe tells at once whether one still answers
  // (a bootstrap connection closing while the real one opens is no outage).
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    s->probe_now = true;
}

void poll_loop(std::shared_ptr<kafka_producer::shared> s) {
  auto next_probe = clock_type::now();
  while (!s->stop_requested.load()) {
    rd_kafka_poll(s->rk, 100);
    s->hand_over();
    s->update_gauges();
    auto now = clock_type::now();
    if (now >= next_probe || s->probe_now.exchange(false)) {
      s->probe();
      bool ready;
      {
        std::lock_guard guard{s->mtx};
        ready = s->ready;
      }
      next_probe =
          clock_type::now() + (ready ? s->opts.probe_interval : std::chrono::milliseconds{1000});
    }
  }
  // Stopping: what the broker confirms within flush_timeout counts as published; the
  // rest is purged, and its publishers get an error (they may publish again elsewhere).
  rd_kafka_flush(s->rk, static_cast<int>(s->opts.flush_timeout.count()));
  s->hand_over();
  if (auto left = rd_kafka_outq_len(s->rk); left > 0) {
    log::warn("topics", left, " event(s) not confirmed by Kafka within ",
              s->opts.flush_timeout.count(), " ms at shutdown: dropped");
    rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(s->rk, 100);
    s->hand_over();
  }
  rd_kafka_t* rk;
  {
    std::lock_guard guard{s->mtx};
    rk = s->rk;
    s->rk = nullptr;
    s->ready = false;
    s->detail = "stopped";
  }
  rd_kafka_destroy(rk);
  if (s->opts.queue_depth)
    s->opts.queue_depth->Set(0);
  s->done = true;
  if (s->hooks.stopped)
    s->hooks.stopped();
}

} // namespace

kafka_producer::kafka_producer(std::shared_ptr<shared> s) : shared_(std::move(s)) {}

std::unique_ptr<kafka_producer> kafka_producer::start(producer_options opts, producer_hooks hooks,
                                                      std::string& error) {
  auto s = std::make_shared<shared>();
  s->opts = std::move(opts);
  s->hooks = std::move(hooks);
  s->detail = "connecting to " + s->opts.brokers;
  auto buffer = std::clamp<std::uint64_t>(s->opts.buffer_max_messages, 1,
                                          std::numeric_limits<std::int32_t>::max());
  properties props{
      {"bootstrap.servers", s->opts.brokers},
      {"client.id", s->opts.client_id},
      // An event counts as published once every in-sync replica has it, exactly once and
      // in order per partition.
      {"enable.idempotence", "true"},
      {"acks", "all"},
      // Broker down: retry without a deadline; the bounded buffer is the limit instead.
      {"message.timeout.ms", "0"},
      {"queue.buffering.max.messages", std::to_string(buffer)},
      // Longest wait for more events to batch with (librdkafka: 5 ms).
      {"linger.ms", ms_property(s->opts.linger)},
  };
  s->rk = new_client(
      RD_KAFKA_PRODUCER, std::move(props), s->opts.properties, s.get(),
      [](rd_kafka_conf_t* conf) {
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_error_cb(conf, on_error);
      },
      error);
  if (!s->rk)
    return nullptr;
  if (s->opts.reachable)
    s->opts.reachable->Set(0);
  std::unique_ptr<kafka_producer> out{new kafka_producer(s)};
  out->thread_ = std::thread{poll_loop, s};
  return out;
}

kafka_producer::~kafka_producer() {
  stop();
  if (!thread_.joinable())
    return;
  if (shared_->done.load())
    thread_.join();
  else
    thread_.detach(); // still flushing: it owns what it needs and ends on its own
}

kafka_producer::result kafka_producer::produce(const std::string& topic, const std::string& key,
                                               const std::string& payload, std::uint64_t id,
                                               std::string& error) {
  std::lock_guard guard{shared_->mtx};
  if (!shared_->rk || shared_->stop_requested.load()) {
    error = "the Kafka producer is stopping";
    return result::failed;
  }
  auto err = rd_kafka_producev(
      shared_->rk, RD_KAFKA_V_TOPIC(topic.c_str()),
      // No key (e.g. an SLA breach): librdkafka spreads such events over the partitions.
      RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(id))), RD_KAFKA_V_END);
  if (!err)
    return result::queued;
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    error = "Kafka producer buffer full (" + std::to_string(shared_->opts.buffer_max_messages) +
            " events waiting for the broker)";
    return result::buffer_full;
  }
  error = "Kafka produce to " + topic + " failed: " + error_text(err);
  return result::failed;
}

kafka_producer::health kafka_producer::status() const {
  std::lock_guard guard{shared_->mtx};
  health h;
  h.ready = shared_->ready;
  h.detail = shared_->detail;
  if (shared_->rk)
    h.queued = static_cast<std::size_t>(std::max(0, rd_kafka_outq_len(shared_->rk)));
  return h;
}

void kafka_producer::stop() {
  shared_->stop_requested = true;
}

} // namespace fw::kafka
