#pragma once
// Bookkeeping of one Kafka consumer between "polled from the broker" and "committed":
// which records of each assigned partition are queued, out at the subscriber, failed
// (waiting for redelivery) or acknowledged, and how far each partition may be committed
// (the highest offset below which every record was acknowledged). Pure logic, no Kafka
// and no locking: kafka_consumer guards it with a mutex.
//
// Ordering: records of one partition are handed out in offset order; while one of them
// failed, the later queued ones of that partition wait until it was acknowledged, so a
// redelivered event is not overtaken by the events after it (those already out when it
// failed cannot be called back).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace fw::kafka {

/// One polled record as handed to the subscriber. (partition, generation, offset) names
/// it in ack/fail/retry; the generation changes with every assignment of the partition,
/// so answers for a partition that was revoked meanwhile are ignored.
struct record {
  std::int32_t partition = 0;
  std::uint64_t generation = 0;
  std::int64_t offset = 0;
  std::string payload;
  unsigned attempts = 0; // deliveries so far, this one included once taken
};

class offset_tracker {
public:
  /// At most `max_in_flight` records are out at the subscriber (or failed and waiting to
  /// be redelivered) at once; polling pauses once that many are held unacknowledged.
  explicit offset_tracker(std::size_t max_in_flight);

  /// The partition was assigned: forgets what was known about it (a new generation).
  void assign(std::int32_t partition);
  /// The partition was revoked: forgets it. Returns the offset to commit for it (the next
  /// one to read) when acknowledgements advanced it since the last commit.
  std::optional<std::int64_t> revoke(std::int32_t partition);
  /// Every assigned partition.
  std::vector<std::int32_t> partitions() const;

  /// A record polled from Kafka. False (and ignored) when it is not newer than what was
  /// already seen of its partition (a refetch after pause/resume). An unknown partition
  /// counts as assigned.
  bool add(std::int32_t partition, std::int64_t offset, std::string payload);

  /// Records to deliver now: queued records of partitions without a failed record, in
  /// offset order, while fewer than max_in_flight are out. They count as out from here.
  std::vector<record> take_dispatchable();
  /// The subscriber acknowledged the record. False when it is unknown (revoked).
  bool ack(std::int32_t partition, std::uint64_t generation, std::int64_t offset);
  /// The subscriber failed the record (error or timeout): it waits for redelivery, and
  /// its partition hands out nothing newer until it is acknowledged (after however many
  /// redeliveries). Returns how often it was delivered so far, or 0 when it is unknown
  /// (revoked).
  unsigned fail(std::int32_t partition, std::uint64_t generation, std::int64_t offset);
  /// Takes a failed record out again for redelivery; nullopt when it is gone (revoked).
  std::optional<record> retry(std::int32_t partition, std::uint64_t generation,
                              std::int64_t offset);

  /// (partition, next offset to read) of every partition whose committable position
  /// advanced since the last call.
  std::vector<std::pair<std::int32_t, std::int64_t>> take_commits();
  /// A commit of (partition, offset) failed: commit it again unless a newer position was
  /// taken for committing since.
  void commit_failed(std::int32_t partition, std::int64_t offset);

  /// Partitions whose fetching should be paused: all of them while max_in_flight records
  /// are held unacknowledged, otherwise those with a failed record.
  std::set<std::int32_t> paused_wanted() const;

  /// Records polled and not yet acknowledged-and-committable (queued, out, failed, or
  /// acknowledged behind an unacknowledged one).
  std::size_t held() const {
    return held_;
  }
  /// Records at the subscriber or failed and waiting for redelivery.
  std::size_t outstanding() const {
    return outstanding_;
  }

private:
  enum class state { queued, out, failed, acked };

  struct entry {
    std::int64_t offset;
    std::string payload;
    state st = state::queued;
    unsigned attempts = 0;
    bool failed_before = false; // blocks its partition until acknowledged
  };

  struct partition_state {
    std::uint64_t generation = 0;
    std::deque<entry> entries;       // offset order
    std::int64_t next_offset = -1;   // after the newest record seen; -1: none yet
    std::int64_t commit_offset = -1; // next offset to read once committed; -1: none
    bool commit_dirty = false;
    std::size_t failed = 0; // entries failed and not acknowledged since
  };

  partition_state* find(std::int32_t partition, std::uint64_t generation);
  entry* find_entry(partition_state& p, std::int64_t offset);
  void drop_entries(partition_state& p);

  std::size_t max_in_flight_;
  std::uint64_t next_generation_ = 1;
  std::map<std::int32_t, partition_state> partitions_;
  std::size_t held_ = 0;
  std::size_t outstanding_ = 0;
};

} // namespace fw::kafka
