// The notifier's outbox on a made-up clock: each chat's messages go out in order, one call
// at a time, paced as the rate limiter says; a chat waiting out a 429 or a backoff holds up
// no other chat; retries end as telegram.max_attempts says; a chat that blocked the bot
// gets no further call.

#include "actors/notifier/telegram_outbox.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using fw::delivery_result;
using fw::telegram_attempt;
using fw::telegram_outbox;
using clock_type = telegram_outbox::clock;

const telegram_attempt ok{"ok", 0, {}};
const telegram_attempt server_error{"transient", 0, "Internal Server Error"};

telegram_attempt retry_after(std::int64_t seconds) {
  return {"retry_after", seconds, "Too Many Requests: retry after " + std::to_string(seconds)};
}

class outbox_test : public ::testing::Test {
protected:
  outbox_test() : outbox(limits(), policy()) {
  }

  static fw::telegram_rate_limiter::limits limits() {
    fw::telegram_rate_limiter::limits lim;
    lim.per_chat = 1s;
    lim.global_per_second = 30;
    return lim;
  }

  static telegram_outbox::retry_policy policy() {
    telegram_outbox::retry_policy p;
    p.max_attempts = 3;
    return p;
  }

  void push(std::int64_t chat, const std::string& text) {
    outbox.push(chat, text, [this, text](delivery_result r) { ended[text] = r; }, now);
  }

  /// The calls due at now, as "chat:text".
  std::vector<std::string> due() {
    std::vector<std::string> out;
    for (auto& c : outbox.take_due(now))
      out.push_back(std::to_string(c.chat_id) + ":" + c.html);
    return out;
  }

  clock_type::time_point now = clock_type::time_point{} + 1000h;
  telegram_outbox outbox;
  std::map<std::string, delivery_result> ended;
};

using calls = std::vector<std::string>;

TEST_F(outbox_test, a_chats_messages_go_one_at_a_time_in_order_and_paced) {
  push(1, "a");
  push(1, "b");
  push(1, "c");
  EXPECT_EQ(due(), calls{"1:a"});
  EXPECT_EQ(due(), calls{}) << "one call per chat at a time";
  outbox.on_answer(1, ok, now);
  EXPECT_EQ(ended.at("a").status, "sent");
  EXPECT_EQ(ended.at("a").attempts, 1);
  EXPECT_EQ(due(), calls{}) << "the next message waits for the chat's 1 s pace";
  ASSERT_TRUE(outbox.next_due());
  EXPECT_EQ(*outbox.next_due(), now + 1s);
  now += 1s;
  EXPECT_EQ(due(), calls{"1:b"});
  outbox.on_answer(1, ok, now);
  now += 1s;
  EXPECT_EQ(due(), calls{"1:c"});
  outbox.on_answer(1, ok, now);
  EXPECT_EQ(outbox.size(), 0u);
  EXPECT_FALSE(outbox.next_due());
}

TEST_F(outbox_test, many_messages_to_one_chat_hold_up_no_other_chat) {
  for (int i = 0; i < 10; ++i)
    push(1, "busy" + std::to_string(i));
  EXPECT_EQ(due(), calls{"1:busy0"});
  outbox.on_answer(1, ok, now);
  push(2, "other");
  EXPECT_EQ(due(), calls{"2:other"}) << "chat 2 is not behind chat 1's nine messages";
  EXPECT_EQ(outbox.size(), 10u);
}

TEST_F(outbox_test, calls_beyond_the_idle_senders_wait_their_turn_in_order) {
  for (int chat = 1; chat <= 5; ++chat)
    push(chat, "m" + std::to_string(chat));
  std::vector<std::string> two;
  for (auto& c : outbox.take_due(now, 2))
    two.push_back(std::to_string(c.chat_id) + ":" + c.html);
  EXPECT_EQ(two, (calls{"1:m1", "2:m2"})) << "at most one call per idle sender";
  ASSERT_TRUE(outbox.next_due());
  EXPECT_LE(*outbox.next_due(), now) << "the other three stay due";
  EXPECT_TRUE(outbox.take_due(now, 0).empty());
  outbox.on_answer(1, ok, now);
  EXPECT_EQ(due(), (calls{"3:m3", "4:m4", "5:m5"}));
  EXPECT_EQ(ended.size(), 1u) << "no message was called twice or dropped";
}

TEST_F(outbox_test, a_429_holds_its_chat_only_and_is_not_a_failed_attempt) {
  push(1, "a");
  push(1, "a2");
  EXPECT_EQ(due(), calls{"1:a"});
  outbox.on_answer(1, retry_after(6), now);
  push(2, "b");
  EXPECT_EQ(due(), calls{"2:b"});
  outbox.on_answer(2, ok, now);
  EXPECT_EQ(ended.at("b").status, "sent");
  now += 5s;
  EXPECT_EQ(due(), calls{}) << "retried before Telegram's 6 s";
  now += 1s;
  EXPECT_EQ(due(), calls{"1:a"}) << "the first message again, before the second";
  outbox.on_answer(1, ok, now);
  EXPECT_EQ(ended.at("a").status, "sent");
  EXPECT_EQ(ended.at("a").attempts, 1);
}

TEST_F(outbox_test, server_errors_back_off_doubling_up_to_max_attempts) {
  auto p = policy();
  p.max_attempts = 4;
  telegram_outbox retrying{limits(), p};
  std::optional<delivery_result> result;
  retrying.push(1, "a", [&](delivery_result r) { result = r; }, now);
  // Backoff 0.5 s, 1 s, 2 s; never sooner than the chat's 1 s pace.
  for (auto wait : {1000ms, 1000ms, 2000ms}) {
    ASSERT_EQ(retrying.take_due(now).size(), 1u);
    retrying.on_answer(1, server_error, now);
    ASSERT_FALSE(result);
    ASSERT_TRUE(retrying.next_due());
    EXPECT_EQ(*retrying.next_due() - now, wait);
    now += wait;
  }
  ASSERT_EQ(retrying.take_due(now).size(), 1u);
  retrying.on_answer(1, server_error, now);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, "failed");
  EXPECT_EQ(result->attempts, 4);
  EXPECT_EQ(result->error, "Internal Server Error");
  EXPECT_EQ(retrying.size(), 0u);
}

TEST_F(outbox_test, a_wait_longer_than_a_minute_fails_the_message) {
  push(1, "a");
  push(1, "b");
  EXPECT_EQ(due(), calls{"1:a"});
  outbox.on_answer(1, retry_after(3600), now);
  EXPECT_EQ(ended.at("a").status, "failed");
  EXPECT_EQ(ended.at("a").error, "Telegram asked to wait 3600 s");
  EXPECT_EQ(outbox.size(), 1u) << "the next message of the chat stays";
}

TEST_F(outbox_test, endless_429s_end_after_max_attempts_waits) {
  push(1, "a");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(due(), calls{"1:a"});
    outbox.on_answer(1, retry_after(1), now);
    now += 1s;
  }
  EXPECT_EQ(due(), calls{"1:a"});
  outbox.on_answer(1, retry_after(1), now);
  ASSERT_TRUE(ended.count("a"));
  EXPECT_EQ(ended.at("a").status, "failed");
}

TEST_F(outbox_test, a_chat_that_blocked_the_bot_gets_no_further_call) {
  push(1, "a");
  push(1, "b");
  push(2, "c");
  EXPECT_EQ(due(), (calls{"1:a", "2:c"}));
  outbox.on_answer(1, {"blocked", 0, "Forbidden: bot was blocked by the user"}, now);
  EXPECT_EQ(ended.at("a").status, "blocked");
  EXPECT_EQ(ended.at("b").status, "blocked");
  EXPECT_EQ(ended.at("b").attempts, 0) << "b was never sent";
  now += 5s;
  EXPECT_EQ(due(), calls{});
  EXPECT_EQ(outbox.size(), 1u) << "chat 2's call is still in progress";
}

TEST_F(outbox_test, rejected_messages_fail_at_once) {
  push(1, "a");
  EXPECT_EQ(due(), calls{"1:a"});
  outbox.on_answer(1, {"rejected", 0, "Bad Request: can't parse entities"}, now);
  EXPECT_EQ(ended.at("a").status, "failed");
  EXPECT_EQ(ended.at("a").attempts, 1);
  EXPECT_EQ(ended.at("a").error, "Bad Request: can't parse entities");
}

TEST_F(outbox_test, the_overall_limit_spreads_a_burst_over_seconds) {
  for (int chat = 1; chat <= 45; ++chat)
    push(chat, "m");
  EXPECT_EQ(due().size(), 30u) << "30 a second over all chats";
  now += 999ms;
  EXPECT_EQ(due().size(), 0u);
  now += 1ms;
  EXPECT_EQ(due().size(), 15u);
}

TEST_F(outbox_test, calls_that_fell_due_during_a_stall_still_go_out_at_30_a_second) {
  for (int chat = 1; chat <= 45; ++chat)
    push(chat, "m");
  EXPECT_EQ(outbox.take_due(now, 4).size(), 4u) << "four senders";
  now += 10s; // Telegram answers nothing for 10 s: every other call falls due meanwhile
  for (int chat = 1; chat <= 4; ++chat)
    outbox.on_answer(chat, ok, now);
  EXPECT_EQ(due().size(), 30u) << "not all 41 at once";
  ASSERT_TRUE(outbox.next_due());
  EXPECT_EQ(*outbox.next_due(), now + 1s) << "the rest when the second is over";
  now += 999ms;
  EXPECT_EQ(due().size(), 0u);
  now += 1ms;
  EXPECT_EQ(due().size(), 11u);
}

TEST_F(outbox_test, done_may_queue_the_next_message_of_the_same_chat) {
  outbox.push(
    1, "a", [this](delivery_result r) {
      ended["a"] = r;
      push(1, "reply");
    },
    now);
  EXPECT_EQ(due(), calls{"1:a"});
  outbox.on_answer(1, ok, now);
  now += 1s;
  EXPECT_EQ(due(), calls{"1:reply"});
}

} // namespace
