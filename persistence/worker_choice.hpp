#pragma once
// Which worker gets the next task: a storage worker, or one of the notifier's Telegram
// senders (no bulk tasks there). Each worker runs its mailbox in order, so a task waits
// for every task given to its worker before it. Two rules keep short tasks (a user
// lookup, an interest upsert: an HTTP request waits for them) from waiting behind bulk
// ones (a collection's flight batch, tens of milliseconds; the burst of evaluations and
// notifications a collection starts, thousands of short writes; a send waiting out
// Telegram's retry_after):
//   - a task goes to the worker with the fewest tasks outstanding (ties in turn);
//   - bulk tasks run only on the first half of the workers (at least one), and short
//     tasks avoid every worker that has a bulk task outstanding while another has none.

#include <cstddef>
#include <vector>

namespace fw {

struct worker_load {
  std::size_t outstanding = 0; // tasks given to the worker and not answered yet
  std::size_t bulk = 0;        // how many of them are bulk tasks
};

/// The index of the worker for a task (`bulk` or not) among `workers` (not empty); ties
/// go to the first one from `start` on (callers advance it per task, for turns).
std::size_t choose_worker(const std::vector<worker_load>& workers, bool bulk, std::size_t start);

} // namespace fw
