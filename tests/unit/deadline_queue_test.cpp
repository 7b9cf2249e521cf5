// The FIFO of calls sharing one timeout that the gateway's bridges and the storage service
// use instead of CAF's per-request timeouts: a call that ends in time hands its payload
// back once, an overdue one goes to the expiry callback once, never both.
#include "actors/common/deadline_queue.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using queue = fw::deadline_queue<std::string>;

const auto t0 = queue::clock::time_point{} + 1h;

std::vector<std::string> expire(queue& q, queue::clock::time_point now) {
  std::vector<std::string> out;
  q.expire(now, [&](std::string& payload) { out.push_back(payload); });
  return out;
}

TEST(deadline_queue, a_call_that_ends_in_time_hands_its_payload_back_once) {
  queue q{1s};
  const auto a = q.open("a", t0);
  EXPECT_EQ(q.next_due(), t0 + 1s);
  EXPECT_EQ(q.close(a), "a");
  EXPECT_EQ(q.close(a), std::nullopt);
  EXPECT_EQ(q.next_due(), std::nullopt);
  EXPECT_TRUE(expire(q, t0 + 2s).empty());
}

TEST(deadline_queue, overdue_calls_expire_oldest_first_and_cannot_be_closed_after) {
  queue q{1s};
  const auto a = q.open("a", t0);
  q.open("b", t0 + 100ms);
  const auto c = q.open("c", t0 + 600ms);
  EXPECT_TRUE(expire(q, t0 + 999ms).empty());
  EXPECT_EQ(expire(q, t0 + 1100ms), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(q.close(a), std::nullopt) << "a late answer must not reach the caller again";
  EXPECT_EQ(q.next_due(), t0 + 1600ms);
  EXPECT_EQ(q.close(c), "c");
  EXPECT_EQ(q.next_due(), std::nullopt);
}

TEST(deadline_queue, calls_closed_out_of_order_leave_the_oldest_open_one_next) {
  queue q{1s};
  const auto a = q.open("a", t0);
  const auto b = q.open("b", t0 + 200ms);
  q.open("c", t0 + 400ms);
  EXPECT_EQ(q.close(b), "b");
  EXPECT_EQ(q.next_due(), t0 + 1s) << "a is still open";
  EXPECT_EQ(q.close(a), "a");
  EXPECT_EQ(q.next_due(), t0 + 1400ms) << "b was closed, so c is next";
  EXPECT_EQ(expire(q, t0 + 2s), (std::vector<std::string>{"c"}));
  EXPECT_EQ(q.close(q.open("d", t0 + 3s)), "d") << "tickets stay valid after expiries";
}

TEST(deadline_queue, one_tick_is_pending_at_a_time_and_it_is_armed_for_the_oldest_open_call) {
  queue q{1s};
  std::vector<queue::clock::duration> armed;
  const auto arm = [&](queue::clock::duration delay) { armed.push_back(delay); };
  std::vector<std::string> expired;
  const auto on_expired = [&](std::string& payload) { expired.push_back(payload); };

  q.open_armed("a", arm, t0);
  q.open_armed("b", arm, t0 + 300ms);
  EXPECT_EQ(armed, (std::vector<queue::clock::duration>{1s})) << "b waits for a's tick";

  q.on_tick(on_expired, arm, t0 + 1s);
  EXPECT_EQ(expired, (std::vector<std::string>{"a"}));
  EXPECT_EQ(armed, (std::vector<queue::clock::duration>{1s, 300ms})) << "re-armed for b";

  q.open_armed("c", arm, t0 + 1100ms);
  EXPECT_EQ(armed.size(), 2u) << "b's tick is still pending";
  q.on_tick(on_expired, arm, t0 + 1300ms);
  EXPECT_EQ(armed.back(), 800ms) << "then c's";
  q.on_tick(on_expired, arm, t0 + 2100ms);
  EXPECT_EQ(expired, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(armed.size(), 3u) << "nothing open: no tick";

  q.open_armed("d", arm, t0 + 5s);
  EXPECT_EQ(armed.size(), 4u) << "the first call after an idle spell arms again";
}

} // namespace
