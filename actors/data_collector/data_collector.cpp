#include "actors/data_collector/data_collector.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "actors/common/text.hpp"
#include "actors/data_collector/collector.hpp"
#include "actors/data_collector/interest_rules.hpp"
#include "actors/data_collector/list_page.hpp"
#include "actors/data_collector/query_cache.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "messages/json.hpp"
#include "messages/unix_time.hpp"
#include "persistence/db_call.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <memory>

namespace fw {

namespace {

using namespace data_collector;

struct data_collector_state {
  static constexpr const char* name = "data-collector";
  node_context_ptr ctx;
  collector_actor collector;
  std::unique_ptr<query_cache> cache;
  prometheus::Counter* cache_hits = nullptr;    // answered from the cache
  prometheus::Counter* cache_joins = nullptr;   // waited for the same query of another request
  prometheus::Counter* cache_misses = nullptr;  // ran the query
  prometheus::Gauge* cache_bytes = nullptr;

  caf::actor storage() const {
    return ctx->directory->get("storage");
  }
};

using self_pointer = data_collector_actor::stateful_pointer<data_collector_state>;

/// Answers `rp` with `shape(stored)`: the reply, or the error it makes of the value.
template <class Reply, class Shape, class Stored>
void deliver_shaped(caf::typed_response_promise<Reply>& rp, Shape& shape, Stored&& stored) {
  caf::expected<Reply> reply = shape(std::forward<Stored>(stored));
  if (reply)
    rp.deliver(std::move(*reply));
  else
    rp.deliver(reply.error());
}

/// Runs `work` on a storage worker and answers the request with its result; `shape`
/// turns the stored value into the reply (or an error).
template <class Reply, class Stored, class Work, class Shape>
caf::typed_response_promise<Reply> query(self_pointer self, const char* operation, Work work,
                                         Shape shape) {
  auto rp = self->make_response_promise<Reply>();
  db_call<Stored>(self, self->state.storage(), operation,
                  std::move(work), [rp, shape](caf::expected<Stored> stored) mutable {
                    if (stored)
                      deliver_shaped(rp, shape, std::move(*stored));
                    else
                      rp.deliver(stored.error());
                  });
  return rp;
}

/// `work` as store work of one argument, given `previous` if it takes a second one.
template <class Stored, class Work>
auto with_previous(Work work, std::optional<Stored> previous) {
  return [work = std::move(work), previous = std::move(previous)](store_session& s) mutable {
    if constexpr (std::is_invocable_v<Work&, store_session&, const Stored*>)
      return work(s, previous ? &*previous : nullptr);
    else
      return work(s);
  };
}

/// As query(), for a flight query whose answer may be kept (query_cache.hpp): `key`
/// names the query and its parameters, `airport` the airport whose new flights change it.
/// A `work` that also takes `const Stored*` gets the kept answer when it renews one (null
/// otherwise), so that it can reuse what did not change.
template <class Reply, class Stored, class Work, class Shape>
caf::typed_response_promise<Reply> cached_query(self_pointer self, const std::string& airport,
                                                std::string key, const char* operation,
                                                Work work, Shape shape) {
  auto& st = self->state;
  if (!st.cache->enabled())
    return query<Reply, Stored>(self, operation,
                                with_previous<Stored>(std::move(work), std::nullopt),
                                std::move(shape));
  auto rp = self->make_response_promise<Reply>();
  std::optional<query_cache::ticket> ticket;
  std::optional<Stored> previous;
  if (auto hit = st.cache->find(key, query_cache::clock::now()); hit.answer) {
    st.cache_hits->Increment();
    // Shaped straight from the kept answer: a list body (39 KB at the default limit) is
    // copied once per request, into the reply.
    deliver_shaped(rp, shape, std::get<Stored>(*hit.answer));
    if (!hit.refresh)
      return rp;
    ticket = hit.refresh; // renewed in the background
    if constexpr (std::is_invocable_v<Work&, store_session&, const Stored*>)
      previous = std::get<Stored>(*hit.answer);
  } else {
    auto answer = [rp, shape](const caf::expected<cached_answer>& a) mutable {
      if (a)
        deliver_shaped(rp, shape, std::get<Stored>(*a));
      else
        rp.deliver(a.error());
    };
    ticket = st.cache->wait(airport, key, std::move(answer));
    if (!ticket) {
      st.cache_joins->Increment();
      return rp;
    }
    st.cache_misses->Increment();
  }
  db_call<Stored>(self, st.storage(), operation,
                  with_previous<Stored>(std::move(work), std::move(previous)),
                  [self, t = *ticket](caf::expected<Stored> stored) {
                    auto& st = self->state;
                    caf::expected<cached_answer> a =
                      stored ? caf::expected<cached_answer>{cached_answer{std::move(*stored)}}
                             : caf::expected<cached_answer>{stored.error()};
                    auto waiters = st.cache->finish(t, a, query_cache::clock::now());
                    st.cache_bytes->Set(static_cast<double>(st.cache->bytes()));
                    for (auto& w : waiters)
                      w(a);
                  });
  return rp;
}

void register_cache_metrics(data_collector_state& st) {
  auto& registry = st.ctx->metrics->registry();
  auto labels = st.ctx->metrics->labels("data_collector");
  auto& lookups = prometheus::BuildCounter()
                    .Name("flight_query_cache_lookups_total")
                    .Help("Flight queries by how they were answered: hit (a kept answer), "
                          "shared (the same query of another request), miss (ran the query)")
                    .Register(registry);
  auto with = [&](const char* result) {
    auto l = labels;
    l.emplace("result", result);
    return &lookups.Add(l);
  };
  st.cache_hits = with("hit");
  st.cache_joins = with("shared");
  st.cache_misses = with("miss");
  st.cache_bytes = &prometheus::BuildGauge()
                      .Name("flight_query_cache_bytes")
                      .Help("Memory taken by kept flight query answers (estimate)")
                      .Register(registry)
                      .Add(labels);
}

/// The stored value itself as the reply (one copy when it is kept, a move when not).
template <class T>
auto same() {
  return [](T x) -> caf::expected<T> { return x; };
}

caf::error not_found_interest(const interest& i) {
  return make_error(ec::not_found,
                    "no interest of " + i.user_email + " in " + i.airport_code);
}

/// The interest is stored when its user exists: the store checks that in the same call
/// (the database is the user-manager's too), with no round trip to that role.
caf::result<interest> add_interest(self_pointer self, interest i) {
  using outcome = interest_store::upsert_outcome;
  auto rp = self->make_response_promise<interest>();
  db_call<outcome>(self, self->state.storage(), "upsert_interest",
                   [i](store_session& s) { return s.interests().upsert(i); },
                   [self, rp, i](caf::expected<outcome> stored) mutable {
                     if (!stored) {
                       rp.deliver(stored.error());
                       return;
                     }
                     if (*stored == outcome::no_user) {
                       rp.deliver(make_error(ec::not_found, "user " + i.user_email + " not found"));
                       return;
                     }
                     // Checked at once rather than at the next tick.
                     self->send(self->state.collector, collect_atom::value, i.airport_code,
                                i.user_email);
                     rp.deliver(i);
                   });
  return rp;
}

data_collector_actor::behavior_type data_collector_role(self_pointer self, node_context_ptr ctx) {
  log_exceptions(self, data_collector_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  const auto& cfg = st.ctx->cfg.collector;
  st.cache = std::make_unique<query_cache>(
    cfg.query_cache_ttl, std::size_t{cfg.query_cache_mib} << 20, st.ctx->kept_answers.get());
  register_cache_metrics(st);
  if (st.ctx->kept_answers)
    st.ctx->kept_answers->set_hit_counter(st.cache_hits);
  st.collector = spawn_collector(self, st.ctx);
  return {
    [self](ping_atom) { return self->state.ctx->make_pong(data_collector_state::name); },
    [](health_atom) { return component_health{data_collector_state::name, true, {}}; },
    [self](collect_atom, const std::string& airport, const std::string& email) {
      self->send(self->state.collector, collect_atom::value, airport, email, true);
    },
    [self](add_interest_atom, interest& i) -> caf::result<interest> {
      if (auto err = check_interest(i))
        return make_error(ec::invalid_argument, *err);
      return add_interest(self, std::move(i));
    },
    [self](update_interest_atom, interest& i) -> caf::result<interest> {
      if (auto err = check_interest(i))
        return make_error(ec::invalid_argument, *err);
      return query<interest, bool>(
        self, "update_interest",
        [i](store_session& s) { return s.interests().update_thresholds(i); },
        [i](bool found) -> caf::expected<interest> {
          if (!found)
            return not_found_interest(i);
          return i;
        });
    },
    [self](remove_interest_atom, const std::string& email,
           std::string& airport) -> caf::result<bool> {
      interest i{normalize_email(email), std::move(airport), caf::none, caf::none};
      if (auto err = check_interest(i))
        return make_error(ec::invalid_argument, *err);
      return query<bool, bool>(
        self, "remove_interest",
        [i](store_session& s) { return s.interests().remove(i.user_email, i.airport_code); },
        [i](bool found) -> caf::expected<bool> {
          if (!found)
            return not_found_interest(i);
          return true;
        });
    },
    [self](list_interests_atom, const std::string& email) {
      auto normalized = normalize_email(email);
      return query<std::vector<interest>, std::vector<interest>>(
        self, "list_interests",
        [normalized](store_session& s) { return s.interests().for_user(normalized); },
        same<std::vector<interest>>());
    },
    [self](delete_interests_atom, const std::string& email) {
      auto normalized = normalize_email(email);
      return query<std::uint64_t, std::uint64_t>(
        self, "delete_user_interests",
        [normalized](store_session& s) { return s.interests().remove_all_of_user(normalized); },
        same<std::uint64_t>());
    },
    [self](flights_changed_atom, const std::vector<std::string>& airports) {
      for (const auto& airport : airports)
        self->state.cache->invalidate(airport);
      self->state.cache_bytes->Set(static_cast<double>(self->state.cache->bytes()));
    },
    [self](list_flights_atom, flight_query& q, bool accept_gzip) -> caf::result<json_body> {
      if (auto err = check_flight_query(q))
        return make_error(ec::invalid_argument, *err);
      // Rendered and compressed on the storage worker, once per query run; a kept answer
      // serves both kinds of client, so it always has its gzip encoding.
      const bool make_gzip = accept_gzip || self->state.cache->enabled();
      return cached_query<json_body, list_body>(
        self, q.airport_code, list_key(q), "list_flights",
        [q, make_gzip](store_session& s, const list_body* previous) {
          return render_list(s.flights().list(q), make_gzip, previous);
        },
        [accept_gzip](const list_body& page) -> caf::expected<json_body> {
          return body_for(page, accept_gzip);
        });
    },
    [self](average_flights_atom, std::string& airport, const std::string& type,
           std::int64_t days) -> caf::result<std::string> {
      if (auto err = check_airport(airport))
        return make_error(ec::invalid_argument, *err);
      if (auto err = check_flight_type(type))
        return make_error(ec::invalid_argument, *err);
      if (days < 1 || days > max_average_days)
        return make_error(ec::invalid_argument,
                          "days must be between 1 and " + std::to_string(max_average_days));
      const auto now = unix_seconds();
      const auto from = now - days * 24 * 3600;
      return cached_query<std::string, std::string>(
        self, airport, average_key(airport, type, days), "average_flights",
        [airport, type, days, from, now](store_session& s) {
          const auto n = s.flights().count(airport, type, from, now);
          return nlohmann::json(
                   flight_average{airport, type, days, n, static_cast<double>(n) / days})
            .dump();
        },
        same<std::string>());
    },
    [self](last_flight_atom, std::string& airport,
           const std::string& type) -> caf::result<flight> {
      if (auto err = check_airport(airport))
        return make_error(ec::invalid_argument, *err);
      if (auto err = check_flight_type(type))
        return make_error(ec::invalid_argument, *err);
      return cached_query<flight, std::optional<flight>>(
        self, airport, last_key(airport, type), "last_flight",
        [airport, type](store_session& s) { return s.flights().last(airport, type); },
        [airport](const std::optional<flight>& f) -> caf::expected<flight> {
          if (!f)
            return make_error(ec::not_found, "no flights stored for " + airport);
          return *f;
        });
    },
  };
}

} // namespace

caf::actor spawn_data_collector(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(data_collector_role, ctx));
}

} // namespace fw
