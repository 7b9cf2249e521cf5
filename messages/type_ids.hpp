#pragma once
// Every message type and atom of the project, in one CAF type-ID block. The build uses
// CAF_ENABLE_TYPE_ID_CHECKS, so sending a type missing here fails to compile instead of
// failing at run time on a remote node. announce.hpp registers the block.

#include "messages/types.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/type_id.hpp>

#include <vector>

CAF_BEGIN_TYPE_ID_BLOCK(flightwatch, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(flightwatch, (fw::pong))
  CAF_ADD_TYPE_ID(flightwatch, (fw::component_health))
  CAF_ADD_TYPE_ID(flightwatch, (fw::bridge_task))
  CAF_ADD_TYPE_ID(flightwatch, (fw::user))
  CAF_ADD_TYPE_ID(flightwatch, (std::vector<fw::user>))
  CAF_ADD_TYPE_ID(flightwatch, (fw::command_reply))
  CAF_ADD_TYPE_ID(flightwatch, (fw::db_task))
  CAF_ADD_TYPE_ID(flightwatch, (fw::flight))
  CAF_ADD_TYPE_ID(flightwatch, (std::vector<fw::flight>))
  CAF_ADD_TYPE_ID(flightwatch, (fw::interest))
  CAF_ADD_TYPE_ID(flightwatch, (std::vector<fw::interest>))
  CAF_ADD_TYPE_ID(flightwatch, (fw::flight_query))
  CAF_ADD_TYPE_ID(flightwatch, (fw::flight_average))
  CAF_ADD_TYPE_ID(flightwatch, (fw::traffic_event))
  CAF_ADD_TYPE_ID(flightwatch, (fw::alert_notice))
  CAF_ADD_TYPE_ID(flightwatch, (fw::telegram_attempt))
  CAF_ADD_TYPE_ID(flightwatch, (fw::notification))
  CAF_ADD_TYPE_ID(flightwatch, (std::vector<fw::notification>))
  CAF_ADD_TYPE_ID(flightwatch, (fw::prometheus_sample))
  CAF_ADD_TYPE_ID(flightwatch, (std::vector<fw::prometheus_sample>))
  CAF_ADD_TYPE_ID(flightwatch, (std::vector<std::string>))
  CAF_ADD_TYPE_ID(flightwatch, (fw::node_info))

  CAF_ADD_ATOM(flightwatch, fw, ping_atom, "ping")
  CAF_ADD_ATOM(flightwatch, fw, health_atom, "health")
  CAF_ADD_ATOM(flightwatch, fw, shutdown_atom, "shutdown")
  CAF_ADD_ATOM(flightwatch, fw, restart_atom, "restart")
  CAF_ADD_ATOM(flightwatch, fw, create_user_atom, "createuser")
  CAF_ADD_ATOM(flightwatch, fw, get_user_atom, "getuser")
  CAF_ADD_ATOM(flightwatch, fw, list_users_atom, "listusers")
  CAF_ADD_ATOM(flightwatch, fw, delete_user_atom, "deleteuser")
  CAF_ADD_ATOM(flightwatch, fw, link_telegram_atom, "linktg")
  CAF_ADD_ATOM(flightwatch, fw, user_exists_atom, "userexists")
  CAF_ADD_ATOM(flightwatch, fw, delete_interests_atom, "delintrsts")
  CAF_ADD_ATOM(flightwatch, fw, purge_atom, "purge")
  CAF_ADD_ATOM(flightwatch, fw, add_interest_atom, "addintrst")
  CAF_ADD_ATOM(flightwatch, fw, update_interest_atom, "updintrst")
  CAF_ADD_ATOM(flightwatch, fw, remove_interest_atom, "rmintrst")
  CAF_ADD_ATOM(flightwatch, fw, list_interests_atom, "lsintrst")
  CAF_ADD_ATOM(flightwatch, fw, list_flights_atom, "lsflights")
  CAF_ADD_ATOM(flightwatch, fw, average_flights_atom, "avgflights")
  CAF_ADD_ATOM(flightwatch, fw, last_flight_atom, "lastflight")
  CAF_ADD_ATOM(flightwatch, fw, collect_atom, "collect")
  CAF_ADD_ATOM(flightwatch, fw, fetch_atom, "fetch")
  CAF_ADD_ATOM(flightwatch, fw, send_atom, "send")
  CAF_ADD_ATOM(flightwatch, fw, list_notifications_atom, "lsnotif")
  CAF_ADD_ATOM(flightwatch, fw, poll_atom, "poll")
  CAF_ADD_ATOM(flightwatch, fw, link_chat_atom, "linkchat")
  CAF_ADD_ATOM(flightwatch, fw, bot_name_atom, "botname")
  CAF_ADD_ATOM(flightwatch, fw, telegram_link_atom, "tglink")
  CAF_ADD_ATOM(flightwatch, fw, publish_atom, "publish")
  CAF_ADD_ATOM(flightwatch, fw, subscribe_atom, "subscribe")
  CAF_ADD_ATOM(flightwatch, fw, topic_event_atom, "topicevent")
  CAF_ADD_ATOM(flightwatch, fw, sla_config_atom, "slaconfig")
  CAF_ADD_ATOM(flightwatch, fw, update_sla_config_atom, "slaupdate")
  CAF_ADD_ATOM(flightwatch, fw, breach_stats_atom, "slastats")
  CAF_ADD_ATOM(flightwatch, fw, sample_atom, "sample")
  CAF_ADD_ATOM(flightwatch, fw, scrape_interval_atom, "scrapeint")
  CAF_ADD_ATOM(flightwatch, fw, check_atom, "slacheck")
  CAF_ADD_ATOM(flightwatch, fw, hello_atom, "hello")
  CAF_ADD_ATOM(flightwatch, fw, join_atom, "join")
  CAF_ADD_ATOM(flightwatch, fw, cluster_status_atom, "clstatus")
  CAF_ADD_ATOM(flightwatch, fw, rebalance_atom, "rebalance")
  CAF_ADD_ATOM(flightwatch, fw, flights_changed_atom, "flchanged")
  CAF_ADD_TYPE_ID(flightwatch, (fw::json_body))

CAF_END_TYPE_ID_BLOCK(flightwatch)

// bridge_task and db_task hold closures: they are only ever delivered inside one process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fw::bridge_task)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fw::db_task)
