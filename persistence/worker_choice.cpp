#include "persistence/worker_choice.hpp"

#include <algorithm>

namespace fw {

std::size_t choose_worker(const std::vector<worker_load>& workers, bool bulk,
                          std::size_t start) {
  const auto n = workers.size();
  const auto bulk_lanes = std::max<std::size_t>(1, n / 2);
  auto eligible = [&](std::size_t i) {
    return bulk ? i < bulk_lanes : workers[i].bulk == 0;
  };
  auto best = n;
  auto least = n; // ignoring the rules: when no worker is eligible (one worker only)
  for (std::size_t k = 0; k < n; ++k) {
    const auto i = (start + k) % n;
    if (least == n || workers[i].outstanding < workers[least].outstanding)
      least = i;
    if (eligible(i) && (best == n || workers[i].outstanding < workers[best].outstanding))
      best = i;
  }
  return best != n ? best : least;
}

} // namespace fw
