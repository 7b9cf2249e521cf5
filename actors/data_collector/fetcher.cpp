#include "actors/data_collector/fetcher.hpp"

#include "actors/common/exceptions.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace fw {

namespace {

struct fetcher_state {
  static constexpr const char* name = "opensky-fetcher";
  std::shared_ptr<opensky_client> client;
  std::unique_ptr<http_client> http;
};

opensky_fetcher_actor::behavior_type
opensky_fetcher(opensky_fetcher_actor::stateful_pointer<fetcher_state> self,
                std::shared_ptr<opensky_client> client) {
  log_exceptions(self, fetcher_state::name);
  self->state.client = std::move(client);
  self->state.http = std::make_unique<http_client>();
  return {
    [self](fetch_atom, const std::string& airport, std::int64_t begin,
           std::int64_t end) -> caf::result<std::vector<flight>> {
      auto& st = self->state;
      auto arrivals = st.client->fetch(*st.http, flight_kind::arrivals, airport, begin, end);
      if (!arrivals)
        return arrivals.error();
      auto departures = st.client->fetch(*st.http, flight_kind::departures, airport, begin, end);
      if (!departures)
        return departures.error();
      arrivals->insert(arrivals->end(), std::make_move_iterator(departures->begin()),
                       std::make_move_iterator(departures->end()));
      return std::move(*arrivals);
    },
  };
}

} // namespace

opensky_fetcher_actor spawn_opensky_fetcher(caf::actor_system& sys,
                                            std::shared_ptr<opensky_client> client) {
  return sys.spawn<caf::detached>(opensky_fetcher, std::move(client));
}

} // namespace fw
