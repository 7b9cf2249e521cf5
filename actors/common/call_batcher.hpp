#pragma once
// Group commit for an actor's calls to storage. While `max_in_flight` batches are at the
// database, new calls wait; when one comes back, the next batch takes every waiting call
// (up to `max_batch`). Under light load a call goes at once, alone; under heavy load
// many calls share one statement and one commit, instead of queueing one by one for a
// storage worker. First come, first sent.

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <utility>
#include <vector>

namespace fw {

template <class Call>
class call_batcher {
public:
  call_batcher(std::size_t max_in_flight, std::size_t max_batch)
    : max_in_flight_(std::max<std::size_t>(1, max_in_flight)),
      max_batch_(std::max<std::size_t>(1, max_batch)) {}

  /// Queues `call`; answers the batch to send now, or none (empty) while the batches in
  /// flight leave no room.
  std::vector<Call> add(Call call) {
    waiting_.push_back(std::move(call));
    return next();
  }

  /// A batch that was sent came back (answered or failed): answers the next batch to
  /// send, or none.
  std::vector<Call> returned() {
    if (in_flight_ > 0)
      --in_flight_;
    return next();
  }

  std::size_t waiting() const {
    return waiting_.size();
  }

  std::size_t in_flight() const {
    return in_flight_;
  }

private:
  std::vector<Call> next() {
    if (waiting_.empty() || in_flight_ >= max_in_flight_)
      return {};
    ++in_flight_;
    if (waiting_.size() <= max_batch_)
      return std::exchange(waiting_, {});
    auto split = waiting_.begin() + static_cast<std::ptrdiff_t>(max_batch_);
    std::vector<Call> batch(std::make_move_iterator(waiting_.begin()),
                            std::make_move_iterator(split));
    waiting_.erase(waiting_.begin(), split);
    return batch;
  }

  std::size_t max_in_flight_;
  std::size_t max_batch_;
  std::size_t in_flight_ = 0;
  std::vector<Call> waiting_;
};

} // namespace fw
