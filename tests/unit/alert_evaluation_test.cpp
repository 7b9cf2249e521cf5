// The alert rules: which condition an event is in, and when a notice goes out (firing,
// repeat after the interval, resolved), with the seed's sentences.

#include "actors/alert_evaluator/evaluation.hpp"

#include <gtest/gtest.h>

namespace {

using namespace fw::alert_evaluator;
using namespace std::chrono_literals;

fw::traffic_event event(std::int64_t count, caf::optional<std::int64_t> high,
                        caf::optional<std::int64_t> low, std::string id = "e1") {
  return {std::move(id), "anna@x.org", "LIRF", count, high, low, 0, 86400};
}

constexpr std::int64_t minute = 60'000;

TEST(alert_evaluation, the_seed_sentences) {
  EXPECT_EQ(high_text(10, 2), "The number of flights (10) exceeded the high threshold of 2.");
  EXPECT_EQ(low_text(1, 5), "The number of flights (1) is below the low threshold of 5.");
}

TEST(alert_evaluation, normal_traffic_without_history_is_silent) {
  for (auto ev : {event(5, std::int64_t{10}, std::int64_t{2}), event(10, std::int64_t{10}, caf::none),
                  event(2, caf::none, std::int64_t{2}), event(1000, caf::none, caf::none)}) {
    auto out = evaluate(ev, std::nullopt, 0, 4h);
    EXPECT_FALSE(out.notice);
    EXPECT_FALSE(out.next);
  }
}

TEST(alert_evaluation, a_condition_fires_once_then_repeats_after_the_interval) {
  auto first = evaluate(event(10, std::int64_t{2}, caf::none, "e1"), std::nullopt, 1000, 4h);
  ASSERT_TRUE(first.notice);
  EXPECT_EQ(first.notice->kind, "firing");
  EXPECT_EQ(first.notice->event_id, "e1:firing");
  EXPECT_EQ(first.notice->condition, high_text(10, 2));
  EXPECT_EQ(first.notice->threshold, 2);
  ASSERT_TRUE(first.next);
  EXPECT_EQ(first.next->condition, "high");
  EXPECT_EQ(first.next->since_ms, 1000);

  auto again = evaluate(event(12, std::int64_t{2}, caf::none, "e2"), first.next, 1000 + 5 * minute, 4h);
  EXPECT_FALSE(again.notice);
  ASSERT_TRUE(again.next);
  EXPECT_EQ(again.next->since_ms, 1000);
  EXPECT_EQ(again.next->last_notified_ms, 1000);
  EXPECT_EQ(again.next->flight_count, 12);

  auto later = evaluate(event(12, std::int64_t{2}, caf::none, "e3"), again.next,
                        1000 + 4 * 60 * minute, 4h);
  ASSERT_TRUE(later.notice);
  EXPECT_EQ(later.notice->kind, "repeat");
  EXPECT_EQ(later.next->last_notified_ms, 1000 + 4 * 60 * minute);
  EXPECT_EQ(later.next->since_ms, 1000);
}

TEST(alert_evaluation, back_to_normal_resolves_with_the_old_threshold) {
  auto firing = evaluate(event(1, caf::none, std::int64_t{5}), std::nullopt, 0, 4h);
  ASSERT_TRUE(firing.notice);
  EXPECT_EQ(firing.notice->condition, low_text(1, 5));
  auto resolved = evaluate(event(7, caf::none, std::int64_t{5}, "e9"), firing.next, minute, 4h);
  ASSERT_TRUE(resolved.notice);
  EXPECT_EQ(resolved.notice->kind, "resolved");
  EXPECT_EQ(resolved.notice->threshold, 5);
  EXPECT_EQ(resolved.notice->event_id, "e9:resolved");
  EXPECT_NE(resolved.notice->condition.find("no longer below the low threshold of 5"),
            std::string::npos);
  EXPECT_FALSE(resolved.next);
  // Thresholds removed while firing: that is back to normal too.
  auto removed = evaluate(event(1, caf::none, caf::none), firing.next, minute, 4h);
  ASSERT_TRUE(removed.notice);
  EXPECT_EQ(removed.notice->kind, "resolved");
}

TEST(alert_evaluation, switching_from_high_to_low_fires_the_new_condition) {
  auto high = evaluate(event(50, std::int64_t{40}, std::int64_t{10}), std::nullopt, 0, 4h);
  auto low = evaluate(event(3, std::int64_t{40}, std::int64_t{10}, "e2"), high.next, minute, 4h);
  ASSERT_TRUE(low.notice);
  EXPECT_EQ(low.notice->kind, "firing");
  EXPECT_EQ(low.next->condition, "low");
  EXPECT_EQ(low.next->threshold, 10);
}

TEST(alert_evaluation, reprocessing_an_event_gives_the_same_notice_id) {
  auto a = evaluate(event(10, std::int64_t{2}, caf::none, "same"), std::nullopt, 0, 4h);
  auto b = evaluate(event(10, std::int64_t{2}, caf::none, "same"), std::nullopt, 99, 4h);
  EXPECT_EQ(a.notice->event_id, b.notice->event_id);
}

} // namespace
