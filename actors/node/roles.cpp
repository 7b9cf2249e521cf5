#include "actors/node/roles.hpp"

#include "actors/cluster/cluster_service.hpp"
#include "actors/kafka_bridge/kafka_topics.hpp"
#include "actors/alert_evaluator/alert_evaluator.hpp"
#include "actors/data_collector/data_collector.hpp"
#include "actors/notifier/notifier.hpp"
#include "actors/sla_watchdog/sla_watchdog.hpp"
#include "actors/user_manager/user_manager.hpp"
#include "gateway/gateway_role.hpp"
#include "persistence/storage_service.hpp"

#include <algorithm>
#include <map>

namespace fw {

std::vector<child_spec> node_children(const std::vector<std::string>& roles) {
  static const std::map<std::string, role_factory> factories{
    {"user-manager", spawn_user_manager},
    {"data-collector", spawn_data_collector},
    {"alert-evaluator", spawn_alert_evaluator},
    {"notifier", spawn_notifier},
    {"sla-watchdog", spawn_sla_watchdog},
    {"gateway", spawn_gateway},
  };
  std::vector<child_spec> out{{"storage", spawn_storage}, {"topics", spawn_topics}};
  for (const auto& role : all_roles())
    if (std::find(roles.begin(), roles.end(), role) != roles.end())
      out.push_back({role, factories.at(role)});
  // Last: it offers the roles to peers once they run, and on shutdown it stops first, so
  // peers stop sending requests here before the roles stop.
  out.push_back({"cluster", spawn_cluster_service});
  return out;
}

std::vector<std::string> in_process_topic_gaps(const std::vector<std::string>& roles) {
  struct flow {
    const char* producer;
    const char* topic;
    const char* consumer;
  };
  static constexpr flow flows[] = {{"data-collector", "to-alert-system", "alert-evaluator"},
                                   {"alert-evaluator", "to-notifier", "notifier"},
                                   {"sla-watchdog", "sla_breach", "notifier"}};
  auto hosts = [&](const char* role) {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  };
  std::vector<std::string> out;
  for (const auto& f : flows)
    if (hosts(f.producer) && !hosts(f.consumer))
      out.push_back(std::string{f.producer} + " publishes " + f.topic + " but no " + f.consumer
                    + " runs on this node and kafka.brokers is empty: those events are "
                      "dropped (run the "
                    + f.consumer + " here, or set kafka.brokers)");
  return out;
}

} // namespace fw
