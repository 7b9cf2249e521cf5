#pragma once
// The sla-watchdog role (the seed's SLA breach detector): every t_check it runs each
// metric's PromQL query against Prometheus, keeps the last 10 samples per metric and
// publishes one sla_breach event when 3 of them are out of range (sla_rules.hpp). Its
// document comes from sla.config_file and can be replaced over HTTP; t_check is kept at
// least 5 x Prometheus' scrape interval (raised at start, refused on update).
// A query that yields no sample (Prometheus down, empty result, NaN) is a query failure:
// counted in metrics, shown in /health and the stats, never a sample.

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

caf::actor spawn_sla_watchdog(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
