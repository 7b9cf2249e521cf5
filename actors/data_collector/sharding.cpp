#include "actors/data_collector/sharding.hpp"

#include <cstdint>

namespace fw::data_collector {

namespace {

/// FNV-1a over the node name, a separator and the airport, finished with splitmix64's
/// mixer so that similar names still give unrelated weights. Stable across builds and
/// machines (no std::hash).
std::uint64_t weight(const std::string& node, const std::string& airport) {
  std::uint64_t h = 14695981039346656037ULL;
  auto add = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (unsigned char c : node)
    add(c);
  add(0);
  for (unsigned char c : airport)
    add(c);
  h += 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

} // namespace

const std::string& owner_of(const std::string& airport, const std::vector<std::string>& nodes) {
  const std::string* best = &nodes.front();
  std::uint64_t best_weight = weight(*best, airport);
  for (const auto& node : nodes) {
    auto w = weight(node, airport);
    if (w > best_weight || (w == best_weight && node < *best)) {
      best = &node;
      best_weight = w;
    }
  }
  return *best;
}

} // namespace fw::data_collector
