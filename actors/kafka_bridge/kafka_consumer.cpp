#include "actors/kafka_bridge/kafka_consumer.hpp"

#include "actors/common/log.hpp"
#include "actors/kafka_bridge/rdkafka_util.hpp"

#include <prometheus/gauge.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <sstream>

namespace fw::kafka {

using clock_type = std::chrono::steady_clock;

struct kafka_consumer::shared {
  consumer_options opts;
  consumer_hooks hooks;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> done{false};
  rd_kafka_t* rk = nullptr; // the poll thread's (callbacks run on it), and the lag thread's

  // The lag thread: until lag_stop, refreshes the lag gauge every lag_interval.
  std::mutex lag_m;
  std::condition_variable lag_wake;
  bool lag_stop = false;

  std::mutex mtx; // guards the tracker
  offset_tracker tracker;

  // Poll thread only.
  std::set<std::int32_t> paused;
  std::string last_message_error;
  int commits_in_flight = 0;
  std::string last_commit_error;
  clock_type::time_point commit_sent;

  explicit shared(consumer_options o) : opts(std::move(o)), tracker(opts.max_in_flight) {}

  partition_list_ptr list_of(const std::set<std::int32_t>& parts) const {
    partition_list_ptr list{rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()))};
    for (auto p : parts)
      rd_kafka_topic_partition_list_add(list.get(), opts.topic.c_str(), p);
    return list;
  }

  /// Commits (asynchronously) what acknowledgements made committable; one commit at a
  /// time, so they do not pile up while the broker is away.
  void commit() {
    // A commit unanswered for long (its result lost in a rebalance) no longer holds back.
    if (commits_in_flight > 0 && clock_type::now() - commit_sent < std::chrono::seconds{10})
      return;
    commits_in_flight = 0;
    std::vector<std::pair<std::int32_t, std::int64_t>> offsets;
    {
      std::lock_guard guard{mtx};
      offsets = tracker.take_commits();
    }
    if (offsets.empty())
      return;
    partition_list_ptr list{rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()))};
    for (const auto& [partition, offset] : offsets)
      rd_kafka_topic_partition_list_add(list.get(), opts.topic.c_str(), partition)->offset = offset;
    auto err = rd_kafka_commit(rk, list.get(), 1);
    if (!err) {
      ++commits_in_flight;
      commit_sent = clock_type::now();
      return;
    }
    log::debug("topics", "committing offsets of ", opts.topic, " (group ", opts.group,
               ") failed: ", error_text(err));
    commit_failed(list.get(), err);
  }

  /// Takes the offsets of a failed commit for committing again (when nothing newer is).
  void commit_failed(const rd_kafka_topic_partition_list_t* offsets, rd_kafka_resp_err_t err) {
    std::lock_guard guard{mtx};
    for (int i = 0; i < offsets->cnt; ++i) {
      const auto& tp = offsets->elems[i];
      if (err || tp.err)
        tracker.commit_failed(tp.partition, tp.offset);
    }
  }

  /// Pauses the partitions the tracker wants paused, resumes the others.
  void apply_pauses() {
    std::set<std::int32_t> wanted;
    {
      std::lock_guard guard{mtx};
      wanted = tracker.paused_wanted();
    }
    if (wanted == paused)
      return;
    std::set<std::int32_t> to_pause;
    std::set<std::int32_t> to_resume;
    std::set_difference(wanted.begin(), wanted.end(), paused.begin(), paused.end(),
                        std::inserter(to_pause, to_pause.end()));
    std::set_difference(paused.begin(), paused.end(), wanted.begin(), wanted.end(),
                        std::inserter(to_resume, to_resume.end()));
    if (!to_pause.empty())
      rd_kafka_pause_partitions(rk, list_of(to_pause).get());
    if (!to_resume.empty())
      rd_kafka_resume_partitions(rk, list_of(to_resume).get());
    paused = std::move(wanted);
  }

  /// Records in the assigned partitions past the group's committed offsets. Asks the
  /// broker and waits for its answers (tens of milliseconds while a fetch is held), so
  /// it runs on its own thread, not the poll thread (librdkafka handles are
  /// thread-safe).
  void update_lag() {
    if (!opts.lag)
      return;
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(rk, &raw) != RD_KAFKA_RESP_ERR_NO_ERROR || !raw)
      return;
    partition_list_ptr assignment{raw};
    if (assignment->cnt == 0) {
      opts.lag->Set(0);
      return;
    }
    if (rd_kafka_committed(rk, assignment.get(), 500) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return;
    std::int64_t lag = 0;
    for (int i = 0; i < assignment->cnt; ++i) {
      const auto& tp = assignment->elems[i];
      // Asked, not the cached value: a paused partition fetches nothing that would update it.
      std::int64_t low = RD_KAFKA_OFFSET_INVALID;
      std::int64_t high = RD_KAFKA_OFFSET_INVALID;
      if (rd_kafka_query_watermark_offsets(rk, tp.topic, tp.partition, &low, &high, 500))
        return;
      auto committed = tp.offset >= 0 ? tp.offset : low;
      lag += std::max<std::int64_t>(0, high - committed);
    }
    opts.lag->Set(static_cast<double>(lag));
  }

  /// One polled message (a record or an error event).
  bool take(rd_kafka_message_t* msg) {
    if (msg->err) {
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return false;
      auto text = rd_kafka_message_errstr(msg);
      if (last_message_error != text)
        log::warn("topics", "consuming ", opts.topic, " (group ", opts.group, "): ", text);
      last_message_error = text;
      return false;
    }
    last_message_error.clear();
    std::string payload{static_cast<const char*>(msg->payload), msg->len};
    std::lock_guard guard{mtx};
    return tracker.add(msg->partition, msg->offset, std::move(payload));
  }

  /// Whether a broker answers a metadata request within half a second.
  bool broker_answers() {
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, nullptr, &md, 500) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return false;
    rd_kafka_metadata_destroy(md);
    return true;
  }

  bool full() {
    std::lock_guard guard{mtx};
    return tracker.held() >= opts.max_in_flight;
  }
};

namespace {

std::string describe(const rd_kafka_topic_partition_list_t* parts) {
  std::ostringstream out;
  for (int i = 0; i < parts->cnt; ++i)
    out << (i ? "," : "") << parts->elems[i].partition;
  return out.str();
}

void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                  void* opaque) {
  auto* s = static_cast<kafka_consumer::shared*>(opaque);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    {
      std::lock_guard guard{s->mtx};
      for (int i = 0; i < parts->cnt; ++i)
        s->tracker.assign(parts->elems[i].partition);
    }
    if (cooperative) {
      if (auto* e = rd_kafka_incremental_assign(rk, parts))
        rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, parts);
    }
    // A partition paused under an earlier assignment starts afresh.
    rd_kafka_resume_partitions(rk, parts);
    for (int i = 0; i < parts->cnt; ++i)
      s->paused.erase(parts->elems[i].partition);
    log::info("topics", "consuming ", s->opts.topic, " partitions [", describe(parts),
              "] in group ", s->opts.group);
    return;
  }
  // Revoked (or an error): commit what was acknowledged before letting go, unless the
  // assignment is lost already (another member owns it now; the commit would fail).
  std::vector<std::pair<std::int32_t, std::int64_t>> offsets;
  {
    std::lock_guard guard{s->mtx};
    auto revoked = s->tracker.partitions();
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      revoked.clear();
      for (int i = 0; i < parts->cnt; ++i)
        revoked.push_back(parts->elems[i].partition);
    }
    for (auto p : revoked)
      if (auto offset = s->tracker.revoke(p))
        offsets.emplace_back(p, *offset);
  }
  if (!offsets.empty() && !rd_kafka_assignment_lost(rk)) {
    partition_list_ptr list{rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()))};
    for (const auto& [partition, offset] : offsets)
      rd_kafka_topic_partition_list_add(list.get(), s->opts.topic.c_str(), partition)->offset =
          offset;
    // Asynchronous: librdkafka finishes outstanding commits before it rejoins or leaves,
    // and a synchronous one could block for long without a broker.
    if (auto e = rd_kafka_commit(rk, list.get(), 1))
      log::warn("topics", "committing offsets of ", s->opts.topic,
                " on revocation failed: ", error_text(e));
    else
      ++s->commits_in_flight;
  }
  if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
    log::warn("topics", "rebalance of group ", s->opts.group, " failed: ", error_text(err));
  if (cooperative && err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    if (auto* e = rd_kafka_incremental_unassign(rk, parts))
      rd_kafka_error_destroy(e);
  } else {
    rd_kafka_assign(rk, nullptr);
  }
  for (int i = 0; i < parts->cnt; ++i)
    s->paused.erase(parts->elems[i].partition);
  log::info("topics", "released ", s->opts.topic, " partitions [", describe(parts), "] of group ",
            s->opts.group);
}

void on_commit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
               void* opaque) {
  auto* s = static_cast<kafka_consumer::shared*>(opaque);
  if (s->commits_in_flight > 0)
    --s->commits_in_flight;
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
    return;
  auto failure = err;
  for (int i = 0; offsets && i < offsets->cnt && !failure; ++i)
    failure = offsets->elems[i].err;
  if (!failure) {
    s->last_commit_error.clear();
    return;
  }
  // Said once per kind of failure, not on every retry.
  auto text = error_text(failure);
  if (text != s->last_commit_error)
    log::warn("topics", "commit of ", s->opts.topic, " (group ", s->opts.group, ") failed: ", text,
              "; trying again");
  s->last_commit_error = text;
  if (offsets)
    s->commit_failed(offsets, err);
}

void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* s = static_cast<kafka_consumer::shared*>(opaque);
  log::debug("topics", "Kafka consumer of ", s->opts.topic, ": ",
             rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)), ": ", reason);
}

/// Stopping: commits what was acknowledged and leaves the group (the revocation commits
/// the rest), within close_timeout, then destroys the handle. Without a broker there is
/// nothing to leave, and librdkafka's destroy then waits up to session.timeout.ms for
/// commits in flight: the end is reported first, so shutdown does not wait for that.
void close_consumer(const std::shared_ptr<kafka_consumer::shared>& s) {
  s->commit();
  bool closed = false;
  if (!s->broker_answers()) {
    log::warn("topics", "no Kafka broker answers: the consumer of ", s->opts.topic, " (group ",
              s->opts.group,
              ") stops without leaving the group; records "
              "acknowledged since its last commit will be delivered again");
  } else {
    auto* queue = rd_kafka_queue_new(s->rk);
    if (auto* err = rd_kafka_consumer_close_queue(s->rk, queue)) {
      log::warn("topics", "closing the consumer of ", s->opts.topic, ": ",
                rd_kafka_error_string(err));
      rd_kafka_error_destroy(err);
    } else {
      auto deadline = clock_type::now() + s->opts.close_timeout;
      while (!(closed = rd_kafka_consumer_closed(s->rk)) && clock_type::now() < deadline)
        rd_kafka_queue_poll_callback(queue, 50);
      if (!closed)
        log::warn("topics", "the consumer of ", s->opts.topic, " (group ", s->opts.group,
                  ") did not close within ", s->opts.close_timeout.count(),
                  " ms; records acknowledged since its last commit will be delivered again");
    }
    rd_kafka_queue_destroy(queue);
  }
  if (s->opts.lag)
    s->opts.lag->Set(0);
  if (!closed && s->hooks.stopped)
    s->hooks.stopped();
  rd_kafka_destroy_flags(s->rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  s->rk = nullptr;
  s->done = true;
  if (closed && s->hooks.stopped)
    s->hooks.stopped();
}

// Records handed over per wake-up of the owner, at most.
constexpr int batch_limit = 256;

void lag_loop(kafka_consumer::shared& s) {
  std::unique_lock lock{s.lag_m};
  while (!s.lag_wake.wait_for(lock, s.opts.lag_interval, [&] { return s.lag_stop; })) {
    lock.unlock();
    s.update_lag();
    lock.lock();
  }
}

void poll_loop(std::shared_ptr<kafka_consumer::shared> s) {
  std::thread lag_thread;
  if (s->opts.lag)
    lag_thread = std::thread{[&s] { lag_loop(*s); }};
  while (!s->stop_requested.load()) {
    s->apply_pauses();
    s->commit();
    bool added = false;
    auto* msg = rd_kafka_consumer_poll(s->rk, 100);
    for (int n = 0; msg; ++n) {
      added = s->take(msg) || added;
      rd_kafka_message_destroy(msg);
      // Stop taking once the tracker is full: what librdkafka fetched beyond is dropped by
      // the pause and fetched again after the resume.
      msg = n + 1 < batch_limit && !s->full() ? rd_kafka_consumer_poll(s->rk, 0) : nullptr;
    }
    if (added && s->hooks.records)
      s->hooks.records();
  }
  if (lag_thread.joinable()) {
    {
      std::lock_guard lock{s->lag_m};
      s->lag_stop = true;
    }
    s->lag_wake.notify_one();
    lag_thread.join(); // before close_consumer destroys the handle
  }
  close_consumer(s);
}

} // namespace

kafka_consumer::kafka_consumer(std::shared_ptr<shared> s) : shared_(std::move(s)) {}

std::unique_ptr<kafka_consumer> kafka_consumer::start(consumer_options opts, consumer_hooks hooks,
                                                      std::string& error) {
  auto s = std::make_shared<shared>(std::move(opts));
  s->hooks = std::move(hooks);
  properties props{
      {"bootstrap.servers", s->opts.brokers},
      {"client.id", s->opts.client_id},
      {"group.id", s->opts.group},
      // Offsets are committed by hand, only once the subscriber acknowledged.
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      // A consumer that died (process killed) keeps its partitions until its session
      // times out: 10 s instead of librdkafka's 45 s lets a restarted or other instance
      // take over quickly, while a GC-free C++ process easily heartbeats every 3 s.
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "3000"},
      // How long the broker holds a fetch that finds nothing new (librdkafka: 500 ms). A
      // real broker answers as soon as a record arrives; the test broker only after it.
      {"fetch.wait.max.ms", ms_property(s->opts.fetch_wait)},
  };
  s->rk = new_client(
      RD_KAFKA_CONSUMER, std::move(props), s->opts.properties, s.get(),
      [](rd_kafka_conf_t* conf) {
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
        rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
        rd_kafka_conf_set_error_cb(conf, on_error);
      },
      error);
  if (!s->rk)
    return nullptr;
  rd_kafka_poll_set_consumer(s->rk); // callbacks are served by the consumer poll
  partition_list_ptr topics{rd_kafka_topic_partition_list_new(1)};
  rd_kafka_topic_partition_list_add(topics.get(), s->opts.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(s->rk, topics.get())) {
    error = "kafka consumer: subscribing to " + s->opts.topic + ": " + error_text(err);
    rd_kafka_destroy(s->rk);
    return nullptr;
  }
  std::unique_ptr<kafka_consumer> out{new kafka_consumer(s)};
  out->thread_ = std::thread{poll_loop, s};
  return out;
}

kafka_consumer::~kafka_consumer() {
  stop();
  if (!thread_.joinable())
    return;
  if (shared_->done.load())
    thread_.join();
  else
    thread_.detach(); // still closing: it owns what it needs and ends on its own
}

std::vector<record> kafka_consumer::take_dispatchable() {
  std::lock_guard guard{shared_->mtx};
  return shared_->tracker.take_dispatchable();
}

bool kafka_consumer::ack(const record& r) {
  std::lock_guard guard{shared_->mtx};
  return shared_->tracker.ack(r.partition, r.generation, r.offset);
}

unsigned kafka_consumer::fail(const record& r) {
  std::lock_guard guard{shared_->mtx};
  return shared_->tracker.fail(r.partition, r.generation, r.offset);
}

std::optional<record> kafka_consumer::retry(std::int32_t partition, std::uint64_t generation,
                                            std::int64_t offset) {
  std::lock_guard guard{shared_->mtx};
  return shared_->tracker.retry(partition, generation, offset);
}

void kafka_consumer::stop() {
  shared_->stop_requested = true;
}

const consumer_options& kafka_consumer::options() const {
  return shared_->opts;
}

} // namespace fw::kafka
