#pragma once
// Which data-collector instance fetches an airport: rendezvous (highest random weight)
// hashing over the names of the live instances' nodes. Every node computes the same owner
// from the same membership, each airport has exactly one owner, and when an instance
// joins or leaves only the airports it gains or loses change owner.

#include <string>
#include <vector>

namespace fw::data_collector {

/// The node among `nodes` (non-empty) that collects `airport`.
const std::string& owner_of(const std::string& airport, const std::vector<std::string>& nodes);

} // namespace fw::data_collector
