#pragma once
// Which factory spawns which role: the one table that links role names to code.

#include "actors/common/node_context.hpp"
#include "actors/node/supervisor.hpp"

namespace fw {

/// The children of a node hosting `roles`: storage and topics, the roles in start order
/// (gateway last), then the cluster service.
std::vector<child_spec> node_children(const std::vector<std::string>& roles);

/// With in-process topics (kafka.brokers empty), events stay inside the node: for each
/// role among `roles` that publishes a topic whose consumer is not among them, one line
/// saying that those events are dropped.
std::vector<std::string> in_process_topic_gaps(const std::vector<std::string>& roles);

} // namespace fw
