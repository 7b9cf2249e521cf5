#pragma once
// The watchdog's Prometheus prober: a detached actor with its own libcurl handle that runs
// instant queries and reads the scrape interval (prometheus_prober_actor). Every call is
// bounded by `timeout`, so a hung Prometheus delays a check, never stops the watchdog.

#include "config/settings.hpp"
#include "messages/interfaces.hpp"

#include <caf/fwd.hpp>

namespace fw {

prometheus_prober_actor spawn_prometheus_prober(caf::actor_system& sys, duration timeout);

} // namespace fw
