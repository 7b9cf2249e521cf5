// What a notification says: the seed's sentence under a short title, HTML-escaped for
// Telegram wherever text comes from outside (metric names from the SLA config).

#include "actors/notifier/notification_text.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace {

fw::alert_notice notice(std::string kind, std::string condition) {
  return {"e:1", "anna@x.org", "LIRF", std::move(kind), std::move(condition), 10, 2, 0};
}

TEST(notification_text, alerts_carry_the_seed_sentence) {
  auto t = fw::notifier::alert_text(
    notice("firing", "The number of flights (10) exceeded the high threshold of 2."));
  EXPECT_EQ(t.plain,
            "Traffic alert at LIRF: The number of flights (10) exceeded the high threshold of 2.");
  EXPECT_EQ(t.html, "<b>Traffic alert at LIRF</b>\nThe number of flights (10) exceeded the high "
                    "threshold of 2.");
  EXPECT_EQ(fw::notifier::alert_text(notice("firing", "The number of flights (1) is below the "
                                                      "low threshold of 5."))
              .plain.rfind("Low traffic at LIRF", 0),
            0u);
  EXPECT_EQ(fw::notifier::alert_text(notice("repeat", "The number of flights (10) exceeded the "
                                                      "high threshold of 2."))
              .plain.rfind("Still busy at LIRF", 0),
            0u);
  EXPECT_EQ(fw::notifier::alert_text(notice("resolved", "Back to normal: ...")).plain.rfind(
              "Back to normal at LIRF", 0),
            0u);
}

TEST(notification_text, breach_text_escapes_the_metric_name) {
  auto breach = nlohmann::json{{"metric", "<script>&\"x\""},
                               {"observed_value", 0.25},
                               {"threshold_violated", 0.1},
                               {"breach_type", "high"},
                               {"violations_count", 3}};
  auto t = fw::notifier::breach_text(breach);
  EXPECT_EQ(t.plain, "SLA breach: <script>&\"x\" observed 0.25, above the maximum 0.1 (3 violations)");
  EXPECT_EQ(t.html.find("<script>"), std::string::npos) << t.html;
  EXPECT_NE(t.html.find("&lt;script&gt;&amp;"), std::string::npos) << t.html;
  breach.erase("metric");
  EXPECT_THROW(fw::notifier::breach_text(breach), nlohmann::json::exception);
}

} // namespace
