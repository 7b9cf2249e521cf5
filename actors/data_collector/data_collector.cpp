#include "actors/data_collector/data_collector.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "actors/common/text.hpp"
#include "actors/data_collector/collector.hpp"
#include "actors/data_collector/interest_rules.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "persistence/db_call.hpp"

#include <caf/actor_system.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace fw {

namespace {

using namespace data_collector;

struct data_collector_state {
  static constexpr const char* name = "data-collector";
  node_context_ptr ctx;
  collector_actor collector;

  caf::actor storage() const {
    return ctx->directory->get("storage");
  }
  std::chrono::milliseconds store_timeout() const {
    return ctx->cfg.storage.timeout;
  }
};

using self_pointer = data_collector_actor::stateful_pointer<data_collector_state>;

/// Runs `work` on a storage worker and answers the request with its result; `shape`
/// turns the stored value into the reply (or an error).
template <class Reply, class Stored, class Work, class Shape>
caf::typed_response_promise<Reply> query(self_pointer self, const char* operation, Work work,
                                         Shape shape) {
  auto rp = self->make_response_promise<Reply>();
  db_call<Stored>(self, self->state.storage(), self->state.store_timeout(), operation,
                  std::move(work), [rp, shape](caf::expected<Stored> stored) mutable {
                    if (!stored) {
                      rp.deliver(stored.error());
                      return;
                    }
                    caf::expected<Reply> reply = shape(std::move(*stored));
                    if (reply)
                      rp.deliver(std::move(*reply));
                    else
                      rp.deliver(reply.error());
                  });
  return rp;
}

template <class T>
auto same() {
  return [](T x) -> caf::expected<T> { return x; };
}

caf::error not_found_interest(const interest& i) {
  return make_error(ec::not_found,
                    "no interest of " + i.user_email + " in " + i.airport_code);
}

/// The interest is stored after the user-manager confirms the user exists.
caf::result<interest> add_interest(self_pointer self, interest i) {
  auto users = self->state.ctx->directory->get("user-manager");
  if (!users)
    return make_error(ec::unavailable, "cannot check the user: role user-manager is not running");
  auto rp = self->make_response_promise<interest>();
  // The user-manager itself may wait up to storage.timeout for its database.
  const auto timeout = self->state.store_timeout() + std::chrono::seconds{1};
  self->request(users, timeout, user_exists_atom::value, i.user_email)
    .then(
      [self, rp, i](bool exists) mutable {
        if (!exists) {
          rp.deliver(make_error(ec::not_found, "user " + i.user_email + " not found"));
          return;
        }
        db_call<bool>(self, self->state.storage(), self->state.store_timeout(),
                      "upsert_interest",
                      [i](store_session& s) { return s.interests().upsert(i); },
                      [self, rp, i](caf::expected<bool> stored) mutable {
                        if (!stored) {
                          rp.deliver(stored.error());
                          return;
                        }
                        // Checked at once rather than at the next tick.
                        self->send(self->state.collector, collect_atom::value, i.airport_code,
                                   i.user_email);
                        rp.deliver(i);
                      });
      },
      [rp, timeout](caf::error& err) mutable {
        if (err == caf::sec::request_timeout)
          rp.deliver(make_error(ec::timeout, "cannot check the user: role user-manager did "
                                             "not answer within "
                                               + std::to_string(timeout.count()) + " ms"));
        else if (err.category() == ec_category && code_of(err) != ec::not_found)
          rp.deliver(make_error(code_of(err), "cannot check the user: " + message_of(err)));
        else
          rp.deliver(make_error(ec::unavailable, "cannot check the user: " + message_of(err)));
      });
  return rp;
}

data_collector_actor::behavior_type data_collector_role(self_pointer self, node_context_ptr ctx) {
  log_exceptions(self, data_collector_state::name);
  self->state.ctx = std::move(ctx);
  self->state.collector = spawn_collector(self, self->state.ctx);
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
    [self](list_flights_atom, flight_query& q) -> caf::result<std::vector<flight>> {
      if (auto err = check_flight_query(q))
        return make_error(ec::invalid_argument, *err);
      return query<std::vector<flight>, std::vector<flight>>(
        self, "list_flights", [q](store_session& s) { return s.flights().list(q); },
        same<std::vector<flight>>());
    },
    [self](average_flights_atom, std::string& airport, const std::string& type,
           std::int64_t days) -> caf::result<flight_average> {
      if (auto err = check_airport(airport))
        return make_error(ec::invalid_argument, *err);
      if (auto err = check_flight_type(type))
        return make_error(ec::invalid_argument, *err);
      if (days < 1 || days > max_average_days)
        return make_error(ec::invalid_argument,
                          "days must be between 1 and " + std::to_string(max_average_days));
      using namespace std::chrono;
      const auto now = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
      const auto from = now - days * 24 * 3600;
      return query<flight_average, std::int64_t>(
        self, "average_flights",
        [airport, type, from, now](store_session& s) {
          return s.flights().count(airport, type, from, now);
        },
        [airport, type, days](std::int64_t n) -> caf::expected<flight_average> {
          return flight_average{airport, type, days, n, static_cast<double>(n) / days};
        });
    },
    [self](last_flight_atom, std::string& airport,
           const std::string& type) -> caf::result<flight> {
      if (auto err = check_airport(airport))
        return make_error(ec::invalid_argument, *err);
      if (auto err = check_flight_type(type))
        return make_error(ec::invalid_argument, *err);
      return query<flight, std::optional<flight>>(
        self, "last_flight", [airport, type](store_session& s) { return s.flights().last(airport, type); },
        [airport](std::optional<flight> f) -> caf::expected<flight> {
          if (!f)
            return make_error(ec::not_found, "no flights stored for " + airport);
          return std::move(*f);
        });
    },
  };
}

} // namespace

caf::actor spawn_data_collector(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(data_collector_role, ctx));
}

} // namespace fw
