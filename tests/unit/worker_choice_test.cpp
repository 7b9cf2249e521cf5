#include "persistence/worker_choice.hpp"

#include <gtest/gtest.h>

namespace fw {
namespace {

std::vector<worker_load> idle(std::size_t n) {
  return std::vector<worker_load>(n);
}

TEST(WorkerChoiceTest, IdleWorkersTakeTurns) {
  auto w = idle(4);
  EXPECT_EQ(choose_worker(w, false, 0), 0u);
  EXPECT_EQ(choose_worker(w, false, 1), 1u);
  EXPECT_EQ(choose_worker(w, false, 6), 2u);
}

TEST(WorkerChoiceTest, ShortTasksGoToTheLeastLoadedWorker) {
  auto w = idle(4);
  w[0].outstanding = 2;
  w[1].outstanding = 1;
  w[2].outstanding = 3;
  w[3].outstanding = 1;
  EXPECT_EQ(choose_worker(w, false, 0), 1u);
  EXPECT_EQ(choose_worker(w, false, 2), 3u) << "ties: the first from start on";
}

TEST(WorkerChoiceTest, BulkTasksStayOnTheFirstHalf) {
  auto w = idle(4);
  EXPECT_EQ(choose_worker(w, true, 2), 0u);
  EXPECT_EQ(choose_worker(w, true, 3), 0u);
  w[0] = {1, 1};
  EXPECT_EQ(choose_worker(w, true, 0), 1u);
  w[1] = {1, 1};
  // Both bulk lanes busy: the next batch queues there rather than taking a short lane.
  EXPECT_LT(choose_worker(w, true, 2), 2u);
  // Five workers: two bulk lanes.
  auto five = idle(5);
  five[0] = {1, 1};
  five[1] = {1, 1};
  EXPECT_LT(choose_worker(five, true, 2), 2u);
}

TEST(WorkerChoiceTest, ShortTasksAvoidWorkersWithABulkTask) {
  auto w = idle(4);
  w[0] = {1, 1}; // a flight batch
  w[2].outstanding = 3;
  w[3].outstanding = 2;
  // Worker 0 has the fewest tasks after 1, but it is running a batch.
  w[1] = {1, 1};
  EXPECT_EQ(choose_worker(w, false, 0), 3u);
  w[1] = {0, 0};
  EXPECT_EQ(choose_worker(w, false, 0), 1u);
}

TEST(WorkerChoiceTest, OneWorkerTakesEverything) {
  std::vector<worker_load> w{{2, 1}};
  EXPECT_EQ(choose_worker(w, false, 5), 0u);
  EXPECT_EQ(choose_worker(w, true, 5), 0u);
}

TEST(WorkerChoiceTest, TwoWorkersKeepOneForShortTasks) {
  auto w = idle(2);
  EXPECT_EQ(choose_worker(w, true, 1), 0u);
  w[0] = {1, 1};
  EXPECT_EQ(choose_worker(w, false, 0), 1u);
  EXPECT_EQ(choose_worker(w, true, 1), 0u);
}

} // namespace
} // namespace fw
