// call_batcher: calls go at once while there is room, wait while the batches in flight
// fill it, and leave together, oldest first and at most max_batch at a time.

#include "actors/common/call_batcher.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fw {
namespace {

using calls = std::vector<int>;

TEST(CallBatcher, UnderLightLoadEachCallGoesAtOnceAlone) {
  call_batcher<int> b{2, 8};
  EXPECT_EQ(b.add(1), calls{1});
  EXPECT_EQ(b.add(2), calls{2});
  EXPECT_EQ(b.in_flight(), 2u);
  EXPECT_EQ(b.returned(), calls{});
  EXPECT_EQ(b.returned(), calls{});
  EXPECT_EQ(b.in_flight(), 0u);
  EXPECT_EQ(b.add(3), calls{3});
}

TEST(CallBatcher, CallsWaitingForRoomLeaveTogetherInOrder) {
  call_batcher<int> b{1, 8};
  EXPECT_EQ(b.add(1), calls{1});
  for (int i = 2; i <= 5; ++i)
    EXPECT_EQ(b.add(i), calls{}) << i;
  EXPECT_EQ(b.waiting(), 4u);
  EXPECT_EQ(b.returned(), (calls{2, 3, 4, 5}));
  EXPECT_EQ(b.waiting(), 0u);
  EXPECT_EQ(b.in_flight(), 1u);
  EXPECT_EQ(b.returned(), calls{});
  EXPECT_EQ(b.in_flight(), 0u);
}

TEST(CallBatcher, ABatchTakesAtMostMaxBatchCallsAndTheRestWaitsItsTurn) {
  call_batcher<std::string> b{1, 3};
  EXPECT_EQ(b.add("a").size(), 1u);
  for (auto s : {"b", "c", "d", "e", "f"})
    EXPECT_TRUE(b.add(s).empty());
  EXPECT_EQ(b.returned(), (std::vector<std::string>{"b", "c", "d"}));
  EXPECT_EQ(b.waiting(), 2u);
  EXPECT_EQ(b.returned(), (std::vector<std::string>{"e", "f"}));
  EXPECT_EQ(b.returned(), std::vector<std::string>{});
  EXPECT_EQ(b.in_flight(), 0u);
}

TEST(CallBatcher, LimitsBelowOneMeanOne) {
  call_batcher<int> b{0, 0};
  EXPECT_EQ(b.add(1), calls{1});
  EXPECT_EQ(b.add(2), calls{});
  EXPECT_EQ(b.add(3), calls{});
  EXPECT_EQ(b.returned(), calls{2});
  EXPECT_EQ(b.returned(), calls{3});
}

} // namespace
} // namespace fw
