#include "actors/data_collector/collector.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "actors/common/text.hpp"
#include "actors/common/topic_broker.hpp"
#include "actors/data_collector/fetcher.hpp"
#include "actors/data_collector/sharding.hpp"
#include "messages/json.hpp"
#include "messages/unix_time.hpp"
#include "persistence/db_call.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <utility>

namespace fw {

namespace {

struct collector_state {
  static constexpr const char* name = "collector";
  node_context_ptr ctx;
  std::vector<opensky_fetcher_actor> fetchers;
  std::vector<bool> busy;
  std::deque<std::string> queue;
  std::set<std::string> pending; // queued or being collected
  std::set<std::string> known;   // airports of interest, as of the last listing
  std::set<std::string> owned;   // those this instance collects (for the log)
  // Last successful collection per airport: a new interest in an airport collected within
  // the interval is checked against the stored flights instead of fetching again.
  std::map<std::string, std::chrono::steady_clock::time_point> collected_at;
  std::vector<std::string> members; // nodes with a data-collector, as last seen
  prometheus::Family<prometheus::Counter>* fetched = nullptr;
  prometheus::Family<prometheus::Gauge>* fetched_last = nullptr;
  prometheus::Family<prometheus::Counter>* failures = nullptr;

  prometheus::Labels labels_for(const std::string& airport) const {
    auto labels = ctx->metrics->labels("data_collector");
    labels.emplace("airport_code", airport);
    return labels;
  }
  caf::actor storage() const {
    return ctx->directory->get("storage");
  }
  std::chrono::milliseconds store_timeout() const {
    return ctx->cfg.storage.timeout;
  }
};

using collector_pointer = collector_actor::stateful_pointer<collector_state>;

void pump(collector_pointer self);

void finish(collector_pointer self, size_t worker, const std::string& airport) {
  self->state.busy[worker] = false;
  self->state.pending.erase(airport);
  pump(self);
}

/// One event per interest of the airport (only `only_email`'s when not empty), with what
/// the store holds for the window; then `done`.
void publish_events(collector_pointer self, const std::string& airport, std::int64_t begin,
                    std::int64_t end, const std::string& only_email,
                    std::function<void()> done) {
  struct counted {
    std::int64_t count = 0;
    std::vector<interest> interests;
  };
  auto& st = self->state;
  db_call<counted>(
    self, st.storage(), "count_for_events",
    [airport, begin, end, only_email](store_session& s) {
      auto interests = s.interests().for_airport(airport);
      if (!only_email.empty())
        std::erase_if(interests, [&](const interest& i) { return i.user_email != only_email; });
      return counted{s.flights().count(airport, "", begin, end), std::move(interests)};
    },
    [self, airport, begin, end, done = std::move(done)](caf::expected<counted> result) {
      if (!result) {
        log::warn("data-collector", "no events for ", airport, ": ",
                  message_of(result.error()));
        done();
        return;
      }
      auto topics = caf::actor_cast<topic_broker_actor>(self->state.ctx->directory->get("topics"));
      for (const auto& i : result->interests) {
        traffic_event ev{random_hex_id(), i.user_email, airport,      result->count,
                         i.high_value,    i.low_value,  begin,        end};
        if (!topics) {
          log::warn("data-collector", "topics are not running: event for ", airport, " lost");
          break;
        }
        self->request(topics, self->state.store_timeout(), publish_atom::value,
                      std::string{topic_to_alert_system}, i.user_email,
                      nlohmann::json(ev).dump())
          .then([] {},
                [airport](caf::error& err) {
                  log::warn("data-collector", "publishing an event for ", airport,
                            " failed: ", message_of(err));
                });
      }
      done();
    },
    db_lane::bulk);
}

std::pair<std::int64_t, std::int64_t> window_until_now(collector_pointer self) {
  const auto end = unix_seconds();
  return {end - std::chrono::duration_cast<std::chrono::seconds>(
                  self->state.ctx->cfg.collector.window)
                  .count(),
          end};
}

/// Every data-collector, here and on peers, drops the answers it keeps for the flight
/// queries of `airports` (a peer that misses this serves them until they expire).
void flights_changed(collector_pointer self, std::vector<std::string> airports) {
  for (const auto& [node, handle] : self->state.ctx->directory->instances("data-collector"))
    caf::anon_send(caf::actor_cast<data_collector_actor>(handle), flights_changed_atom::value,
                   airports);
}

/// The airports whose flight queries a batch can change: both ends of every flight.
std::vector<std::string> airports_of(const std::vector<flight>& batch) {
  std::set<std::string> airports;
  for (const auto& f : batch)
    for (const auto* code : {&f.est_departure_airport, &f.est_arrival_airport})
      if (!code->empty())
        airports.insert(*code);
  return {airports.begin(), airports.end()};
}

void collect(collector_pointer self, size_t worker, const std::string& airport) {
  auto& st = self->state;
  const auto [begin, end] = window_until_now(self);
  const auto window_s = end - begin;
  // Two calls (arrivals, departures) per started two days of window, each up to the
  // OpenSky timeout, plus a token request and one retry after a 401 for each.
  const auto calls = 2 * (1 + window_s / (2 * 24 * 3600));
  const auto timeout = st.ctx->cfg.opensky.timeout * (3 * calls) + std::chrono::seconds{5};
  st.busy[worker] = true;
  self->request(st.fetchers[worker], timeout, fetch_atom::value, airport, begin, end)
    .then(
      [self, worker, airport, begin, end](std::vector<flight>& flights) {
        auto& st = self->state;
        st.fetched->Add(st.labels_for(airport)).Increment(static_cast<double>(flights.size()));
        st.fetched_last->Add(st.labels_for(airport)).Set(static_cast<double>(flights.size()));
        auto batch = std::make_shared<std::vector<flight>>(std::move(flights));
        db_call<std::uint64_t>(
          self, st.storage(), "insert_flights",
          [batch](store_session& s) { return s.flights().insert(*batch); },
          [self, worker, airport, begin, end,
           touched = airports_of(*batch)](caf::expected<std::uint64_t> stored) mutable {
            if (!stored) {
              self->state.failures->Add(self->state.labels_for(airport)).Increment();
              log::warn("data-collector", "flights of ", airport, " not stored: ",
                        message_of(stored.error()));
              finish(self, worker, airport);
              return;
            }
            log::debug("data-collector", airport, ": ", *stored, " new flights");
            if (*stored > 0)
              flights_changed(self, std::move(touched));
            self->state.collected_at[airport] = std::chrono::steady_clock::now();
            publish_events(self, airport, begin, end, "",
                           [self, worker, airport] { finish(self, worker, airport); });
          },
          db_lane::bulk);
      },
      [self, worker, airport](caf::error& err) {
        self->state.failures->Add(self->state.labels_for(airport)).Increment();
        log::warn("data-collector", "collection of ", airport, " failed: ", message_of(err));
        finish(self, worker, airport);
      });
}

void pump(collector_pointer self) {
  auto& st = self->state;
  for (size_t w = 0; w < st.fetchers.size() && !st.queue.empty(); ++w) {
    if (st.busy[w])
      continue;
    auto airport = std::move(st.queue.front());
    st.queue.pop_front();
    collect(self, w, airport);
  }
}

/// The nodes with a live data-collector (this one included), sorted.
std::vector<std::string> members(collector_pointer self) {
  const auto& me = self->state.ctx->cfg.node.name;
  std::vector<std::string> nodes;
  for (const auto& [node, handle] : self->state.ctx->directory->instances("data-collector"))
    nodes.push_back(node.empty() ? me : node);
  if (std::find(nodes.begin(), nodes.end(), me) == nodes.end())
    nodes.push_back(me);
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

bool mine(collector_pointer self, const std::string& airport,
          const std::vector<std::string>& nodes) {
  return nodes.size() <= 1
         || data_collector::owner_of(airport, nodes) == self->state.ctx->cfg.node.name;
}

void enqueue(collector_pointer self, const std::string& airport, bool urgent);

/// A new interest of `email` in an airport this instance collects. Fetching again what
/// the last interval already fetched would spend OpenSky credits (and storage writes) for
/// nothing: a fresh airport gets only this interest checked against the stored flights.
void new_interest(collector_pointer self, const std::string& airport, const std::string& email) {
  auto& st = self->state;
  auto last = st.collected_at.find(airport);
  if (last == st.collected_at.end() || st.pending.count(airport)
      || std::chrono::steady_clock::now() - last->second >= st.ctx->cfg.collector.interval) {
    enqueue(self, airport, true); // a collection in progress checks every interest anyway
    return;
  }
  const auto [begin, end] = window_until_now(self);
  publish_events(self, airport, begin, end, email, [] {});
}

void enqueue(collector_pointer self, const std::string& airport, bool urgent) {
  auto& st = self->state;
  if (!st.pending.insert(airport).second)
    return; // already queued or being collected
  if (urgent)
    st.queue.push_front(airport);
  else
    st.queue.push_back(airport);
  pump(self);
}

collector_actor::behavior_type collector(collector_pointer self, node_context_ptr ctx) {
  log_exceptions(self, collector_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  auto client = std::make_shared<opensky_client>(st.ctx->cfg.opensky, *st.ctx->metrics);
  for (unsigned i = 0; i < st.ctx->cfg.collector.max_in_flight; ++i) {
    st.fetchers.push_back(spawn_opensky_fetcher(self->system(), client));
    self->link_to(st.fetchers.back());
    st.busy.push_back(false);
  }
  auto& registry = st.ctx->metrics->registry();
  st.fetched = &prometheus::BuildCounter()
                  .Name("flights_fetched_total")
                  .Help("Flights received from OpenSky, by airport")
                  .Register(registry);
  st.fetched_last = &prometheus::BuildGauge()
                       .Name("flights_fetched_last_collection")
                       .Help("Flights received from OpenSky in the last collection, by airport")
                       .Register(registry);
  st.failures = &prometheus::BuildCounter()
                   .Name("flightwatch_collection_failures_total")
                   .Help("Airport collections that stored nothing (OpenSky or storage failed)")
                   .Register(registry);
  // In a cluster, let the node meet its peers first, so that the first collection is
  // already shared out (a node rejoining does not fetch its peers' airports too).
  if (st.ctx->cfg.cluster.enabled())
    self->delayed_send(self, std::chrono::seconds{2}, collect_atom::value);
  else
    self->send(self, collect_atom::value);
  st.members = members(self);
  self->delayed_send(self, std::chrono::seconds{1}, rebalance_atom::value);
  return {
    [self](collect_atom) {
      auto& st = self->state;
      db_call<std::vector<std::string>>(
        self, st.storage(), "interest_airports",
        [](store_session& s) { return s.interests().airports(); },
        [self](caf::expected<std::vector<std::string>> airports) {
          const auto interval = self->state.ctx->cfg.collector.interval;
          if (!airports) {
            // Storage still migrating at start, or down: try again soon rather than
            // after a whole interval.
            const auto retry = std::min<std::chrono::milliseconds>(interval,
                                                                   std::chrono::seconds{2});
            log::warn("data-collector", "collection postponed ", retry.count(),
                      " ms: ", message_of(airports.error()));
            self->delayed_send(self, retry, collect_atom::value);
            return;
          }
          self->delayed_send(self, interval, collect_atom::value);
          auto& st = self->state;
          st.known = {airports->begin(), airports->end()};
          st.owned.clear();
          const auto nodes = members(self);
          for (const auto& a : *airports)
            if (mine(self, a, nodes)) {
              st.owned.insert(a);
              enqueue(self, a, false);
            }
        });
    },
    [self](collect_atom, const std::string& airport, const std::string& email) {
      auto& st = self->state;
      st.known.insert(airport);
      const auto nodes = members(self);
      if (mine(self, airport, nodes)) {
        st.owned.insert(airport);
        new_interest(self, airport, email);
        return;
      }
      const auto& owner = data_collector::owner_of(airport, nodes);
      for (const auto& [node, handle] : st.ctx->directory->instances("data-collector"))
        if (node == owner) {
          caf::anon_send(caf::actor_cast<data_collector_actor>(handle), collect_atom::value,
                         airport, email);
          return;
        }
      new_interest(self, airport, email); // the owner is gone meanwhile: do it here
    },
    [self](collect_atom, const std::string& airport, const std::string& email, bool) {
      self->state.known.insert(airport);
      new_interest(self, airport, email);
    },
    [self](rebalance_atom) {
      self->delayed_send(self, std::chrono::seconds{1}, rebalance_atom::value);
      auto& st = self->state;
      auto nodes = members(self);
      if (nodes == st.members)
        return;
      auto before = std::exchange(st.members, nodes);
      // The airports of interest as stored now: a peer's airports were never listed here.
      db_call<std::vector<std::string>>(
        self, st.storage(), "interest_airports",
        [](store_session& s) { return s.interests().airports(); },
        [self, nodes, before](caf::expected<std::vector<std::string>> airports) {
          auto& st = self->state;
          if (!airports) {
            st.members = before; // try again at the next tick
            return;
          }
          if (nodes != st.members)
            return; // changed again meanwhile: the next tick handles it
          st.known = {airports->begin(), airports->end()};
          std::set<std::string> owned;
          size_t taken = 0;
          for (const auto& a : st.known)
            if (mine(self, a, nodes)) {
              owned.insert(a);
              if (!mine(self, a, before)) { // it was a peer's
                enqueue(self, a, true);
                ++taken;
              }
            }
          log::info("data-collector", "collection shared by ", nodes.size(),
                    " instance(s): this one collects ", owned.size(), " of ", st.known.size(),
                    " airport(s)", taken ? ", taking over " + std::to_string(taken) + " now" : "");
          st.owned = std::move(owned);
        });
    },
  };
}

} // namespace

collector_actor spawn_collector(caf::local_actor* owner, const node_context_ptr& ctx) {
  auto handle = owner->system().spawn(collector, ctx);
  owner->link_to(handle);
  return handle;
}

} // namespace fw
