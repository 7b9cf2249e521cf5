#include "actors/kafka_bridge/offset_tracker.hpp"

#include <algorithm>

namespace fw::kafka {

offset_tracker::offset_tracker(std::size_t max_in_flight)
  : max_in_flight_(std::max<std::size_t>(max_in_flight, 1)) {}

void offset_tracker::drop_entries(partition_state& p) {
  for (const auto& e : p.entries) {
    --held_;
    if (e.st == state::out || e.st == state::failed)
      --outstanding_;
  }
  p.entries.clear();
  p.failed = 0;
}

void offset_tracker::assign(std::int32_t partition) {
  auto& p = partitions_[partition];
  drop_entries(p);
  p = partition_state{};
  p.generation = next_generation_++;
}

std::optional<std::int64_t> offset_tracker::revoke(std::int32_t partition) {
  auto i = partitions_.find(partition);
  if (i == partitions_.end())
    return std::nullopt;
  drop_entries(i->second);
  std::optional<std::int64_t> out;
  if (i->second.commit_dirty)
    out = i->second.commit_offset;
  partitions_.erase(i);
  return out;
}

std::vector<std::int32_t> offset_tracker::partitions() const {
  std::vector<std::int32_t> out;
  for (const auto& [id, p] : partitions_)
    out.push_back(id);
  return out;
}

bool offset_tracker::add(std::int32_t partition, std::int64_t offset, std::string payload) {
  auto i = partitions_.find(partition);
  if (i == partitions_.end()) {
    assign(partition);
    i = partitions_.find(partition);
  }
  auto& p = i->second;
  if (p.next_offset >= 0 && offset < p.next_offset)
    return false;
  p.next_offset = offset + 1;
  p.entries.push_back(entry{offset, std::move(payload)});
  ++held_;
  return true;
}

std::vector<record> offset_tracker::take_dispatchable() {
  std::vector<record> out;
  for (auto& [id, p] : partitions_) {
    if (p.failed > 0)
      continue;
    for (auto& e : p.entries) {
      if (outstanding_ >= max_in_flight_)
        return out;
      if (e.st != state::queued)
        continue;
      e.st = state::out;
      ++e.attempts;
      ++outstanding_;
      out.push_back(record{id, p.generation, e.offset, e.payload, e.attempts});
    }
  }
  return out;
}

offset_tracker::partition_state* offset_tracker::find(std::int32_t partition,
                                                      std::uint64_t generation) {
  auto i = partitions_.find(partition);
  if (i == partitions_.end() || i->second.generation != generation)
    return nullptr;
  return &i->second;
}

offset_tracker::entry* offset_tracker::find_entry(partition_state& p, std::int64_t offset) {
  auto i = std::lower_bound(p.entries.begin(), p.entries.end(), offset,
                            [](const entry& e, std::int64_t x) { return e.offset < x; });
  if (i == p.entries.end() || i->offset != offset)
    return nullptr;
  return &*i;
}

bool offset_tracker::ack(std::int32_t partition, std::uint64_t generation, std::int64_t offset) {
  auto* p = find(partition, generation);
  if (!p)
    return false;
  auto* e = find_entry(*p, offset);
  if (!e || e->st == state::acked || e->st == state::queued)
    return false;
  if (e->failed_before)
    --p->failed;
  e->st = state::acked;
  --outstanding_;
  while (!p->entries.empty() && p->entries.front().st == state::acked) {
    p->commit_offset = p->entries.front().offset + 1;
    p->commit_dirty = true;
    p->entries.pop_front();
    --held_;
  }
  return true;
}

unsigned offset_tracker::fail(std::int32_t partition, std::uint64_t generation,
                              std::int64_t offset) {
  auto* p = find(partition, generation);
  if (!p)
    return 0;
  auto* e = find_entry(*p, offset);
  if (!e || e->st != state::out)
    return 0;
  e->st = state::failed;
  if (!e->failed_before) {
    e->failed_before = true;
    ++p->failed;
  }
  return e->attempts;
}

std::optional<record> offset_tracker::retry(std::int32_t partition, std::uint64_t generation,
                                            std::int64_t offset) {
  auto* p = find(partition, generation);
  if (!p)
    return std::nullopt;
  auto* e = find_entry(*p, offset);
  if (!e || e->st != state::failed)
    return std::nullopt;
  e->st = state::out;
  ++e->attempts;
  return record{partition, generation, offset, e->payload, e->attempts};
}

std::vector<std::pair<std::int32_t, std::int64_t>> offset_tracker::take_commits() {
  std::vector<std::pair<std::int32_t, std::int64_t>> out;
  for (auto& [id, p] : partitions_)
    if (p.commit_dirty) {
      out.emplace_back(id, p.commit_offset);
      p.commit_dirty = false;
    }
  return out;
}

void offset_tracker::commit_failed(std::int32_t partition, std::int64_t offset) {
  auto i = partitions_.find(partition);
  if (i != partitions_.end() && i->second.commit_offset == offset)
    i->second.commit_dirty = true;
}

std::set<std::int32_t> offset_tracker::paused_wanted() const {
  std::set<std::int32_t> out;
  for (const auto& [id, p] : partitions_)
    if (held_ >= max_in_flight_ || p.failed > 0)
      out.insert(id);
  return out;
}

} // namespace fw::kafka
