#pragma once
// An OpenSky fetch worker: a detached actor (libcurl blocks) with its own HTTP
// connection, sharing the OpenSky client (token, breaker, rate-limit pause) with the
// other workers of the collector.

#include "actors/data_collector/opensky_client.hpp"
#include "messages/interfaces.hpp"

#include <memory>

namespace fw {

opensky_fetcher_actor spawn_opensky_fetcher(caf::actor_system& sys,
                                            std::shared_ptr<opensky_client> client);

} // namespace fw
