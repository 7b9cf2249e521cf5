// The data-collector's cache of flight query answers: what it keeps, for how long, what
// drops it, that concurrent misses share one query, and that the board the gateway reads
// (kept_answers) gives out exactly the kept answers, until their renewal point.
#include "actors/data_collector/query_cache.hpp"

#include "messages/errors.hpp"
#include "messages/json.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace {

using fw::data_collector::cached_answer;
using fw::data_collector::kept_answers;
using fw::data_collector::query_cache;
using namespace std::chrono_literals;

const auto t0 = query_cache::clock::time_point{} + 1h;

/// Runs one query for `key` of `airport` to its end with answer `value`.
void store(query_cache& c, const std::string& airport, const std::string& key,
           std::int64_t value, query_cache::clock::time_point now = t0) {
  auto t = c.wait(airport, key, [](const auto&) {});
  ASSERT_TRUE(t);
  c.finish(*t, cached_answer{std::to_string(value)}, now);
}

/// The number a body stored by store() holds, or -1 without one.
std::int64_t count_of(const cached_answer* a) {
  return a ? std::stoll(std::get<std::string>(*a)) : -1;
}

fw::flight flight_of(std::string icao24) {
  fw::flight f;
  f.icao24 = std::move(icao24);
  f.est_departure_airport = "LIRF";
  f.est_arrival_airport = "EGLL";
  f.callsign = "AZA204";
  return f;
}

TEST(query_cache, keeps_an_answer_for_the_ttl_only) {
  query_cache c{1s, 1 << 20};
  store(c, "LIRF", "count|LIRF", 42);
  EXPECT_EQ(count_of(c.find("count|LIRF", t0).answer), 42);
  EXPECT_EQ(count_of(c.find("count|LIRF", t0 + 999ms).answer), 42);
  EXPECT_EQ(c.find("count|LIRF", t0 + 1s).answer, nullptr);
  EXPECT_EQ(c.size(), 0u) << "an expired answer is dropped when found";
  EXPECT_EQ(c.bytes(), 0u);
  EXPECT_EQ(c.find("count|EGLL", t0).answer, nullptr);
}

TEST(query_cache, an_answer_in_use_is_renewed_before_it_expires) {
  query_cache c{1s, 1 << 20};
  store(c, "LIRF", "count|LIRF", 1);
  auto early = c.find("count|LIRF", t0 + 400ms);
  EXPECT_EQ(count_of(early.answer), 1);
  EXPECT_FALSE(early.refresh);
  auto due = c.find("count|LIRF", t0 + 900ms);
  EXPECT_EQ(count_of(due.answer), 1) << "the kept answer serves while it is renewed";
  ASSERT_TRUE(due.refresh);
  EXPECT_FALSE(c.find("count|LIRF", t0 + 950ms).refresh) << "one renewal at a time";
  EXPECT_TRUE(c.finish(*due.refresh, cached_answer{std::string{"2"}}, t0 + 960ms).empty());
  EXPECT_EQ(count_of(c.find("count|LIRF", t0 + 1400ms).answer), 2);
  EXPECT_FALSE(c.find("count|LIRF", t0 + 1400ms).refresh);
  EXPECT_TRUE(c.find("count|LIRF", t0 + 1860ms).refresh);
}

TEST(query_cache, answers_stored_together_are_not_all_renewed_together) {
  query_cache c{1s, 1 << 20};
  for (int i = 0; i < 20; ++i)
    store(c, "LIRF", "count|" + std::to_string(i), i);
  int due = 0;
  for (int i = 0; i < 20; ++i)
    due += c.find("count|" + std::to_string(i), t0 + 700ms).refresh ? 1 : 0;
  EXPECT_GT(due, 0);
  EXPECT_LT(due, 20);
}

TEST(query_cache, a_miss_after_expiry_joins_a_running_renewal) {
  query_cache c{1s, 1 << 20};
  store(c, "LIRF", "count|LIRF", 1);
  auto due = c.find("count|LIRF", t0 + 900ms);
  ASSERT_TRUE(due.refresh);
  EXPECT_EQ(c.find("count|LIRF", t0 + 1s).answer, nullptr);
  EXPECT_FALSE(c.wait("LIRF", "count|LIRF", [](const auto&) {}));
  EXPECT_EQ(c.finish(*due.refresh, cached_answer{std::string{"2"}}, t0 + 1100ms).size(), 1u);
  EXPECT_EQ(count_of(c.find("count|LIRF", t0 + 1100ms).answer), 2);
}

TEST(query_cache, concurrent_misses_share_one_query) {
  query_cache c{1s, 1 << 20};
  std::vector<std::int64_t> got;
  auto record = [&](const caf::expected<cached_answer>& a) {
    got.push_back(a ? std::stoll(std::get<std::string>(*a)) : -1);
  };
  auto first = c.wait("LIRF", "count|LIRF", record);
  ASSERT_TRUE(first);
  EXPECT_FALSE(c.wait("LIRF", "count|LIRF", record)) << "the second joins the first";
  EXPECT_FALSE(c.wait("LIRF", "count|LIRF", record));
  auto other = c.wait("LIRF", "last|LIRF", record);
  ASSERT_TRUE(other) << "another key runs its own query";
  auto waiters = c.finish(*first, cached_answer{std::string{"7"}}, t0);
  EXPECT_EQ(waiters.size(), 3u);
  for (auto& w : waiters)
    w(cached_answer{std::string{"7"}});
  EXPECT_EQ(got, (std::vector<std::int64_t>{7, 7, 7}));
  EXPECT_EQ(count_of(c.find("count|LIRF", t0).answer), 7);
  EXPECT_EQ(c.finish(*other, cached_answer{std::string{"1"}}, t0).size(), 1u);
}

TEST(query_cache, an_error_reaches_every_waiter_and_is_not_kept) {
  query_cache c{1s, 1 << 20};
  auto t = c.wait("LIRF", "count|LIRF", [](const auto&) {});
  ASSERT_TRUE(t);
  EXPECT_FALSE(c.wait("LIRF", "count|LIRF", [](const auto&) {}));
  auto waiters =
    c.finish(*t, caf::expected<cached_answer>{fw::make_error(fw::ec::unavailable, "down")}, t0);
  EXPECT_EQ(waiters.size(), 2u);
  EXPECT_EQ(c.find("count|LIRF", t0).answer, nullptr);
  EXPECT_TRUE(c.wait("LIRF", "count|LIRF", [](const auto&) {})) << "the next request retries";
}

TEST(query_cache, new_flights_drop_the_airports_answers) {
  query_cache c{1h, 1 << 20};
  store(c, "LIRF", "count|LIRF|", 1);
  store(c, "LIRF", "last|LIRF|arrivals", 2);
  store(c, "EGLL", "count|EGLL|", 3);
  c.invalidate("LIRF");
  EXPECT_EQ(c.find("count|LIRF|", t0).answer, nullptr);
  EXPECT_EQ(c.find("last|LIRF|arrivals", t0).answer, nullptr);
  EXPECT_EQ(count_of(c.find("count|EGLL|", t0).answer), 3);
  EXPECT_EQ(c.size(), 1u);
}

TEST(query_cache, a_query_that_began_before_new_flights_is_neither_kept_nor_joined) {
  query_cache c{1h, 1 << 20};
  auto before = c.wait("LIRF", "count|LIRF", [](const auto&) {});
  ASSERT_TRUE(before);
  c.invalidate("LIRF");
  auto after = c.wait("LIRF", "count|LIRF", [](const auto&) {});
  ASSERT_TRUE(after) << "a request after the change must not get the older query's answer";
  EXPECT_EQ(c.finish(*before, cached_answer{std::string{"1"}}, t0).size(), 1u);
  EXPECT_EQ(c.find("count|LIRF", t0).answer, nullptr) << "the older answer is not kept";
  EXPECT_EQ(c.finish(*after, cached_answer{std::string{"2"}}, t0).size(), 1u);
  EXPECT_EQ(count_of(c.find("count|LIRF", t0).answer), 2);
}

TEST(query_cache, memory_stays_under_its_bound_oldest_answers_going_first) {
  std::vector<fw::flight> page;
  for (int i = 0; i < 100; ++i)
    page.push_back(flight_of("4ca" + std::to_string(100 + i)));
  const auto body = fw::to_json_text(page);
  const auto one = query_cache::weight("list|LIRF|0", cached_answer{body});
  EXPECT_GT(one, body.size());
  query_cache c{1h, 3 * one + one / 2};
  for (int i = 0; i < 5; ++i) {
    auto t = c.wait("LIRF", "list|LIRF|" + std::to_string(i), [](const auto&) {});
    ASSERT_TRUE(t);
    c.finish(*t, cached_answer{body}, t0 + std::chrono::seconds{i});
    EXPECT_LE(c.bytes(), 3 * one + one / 2);
  }
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.find("list|LIRF|0", t0).answer, nullptr);
  EXPECT_EQ(c.find("list|LIRF|1", t0).answer, nullptr);
  ASSERT_NE(c.find("list|LIRF|4", t0).answer, nullptr);
  EXPECT_EQ(std::get<std::string>(*c.find("list|LIRF|4", t0).answer), body);
  query_cache tiny{1h, one / 2};
  auto t = tiny.wait("LIRF", "list|LIRF|0", [](const auto&) {});
  EXPECT_EQ(tiny.finish(*t, cached_answer{body}, t0).size(), 1u);
  EXPECT_EQ(tiny.size(), 0u) << "an answer larger than the whole bound is not kept";
}

/// The number on `board` for `key` at `now`, or -1 when it gives out none.
std::int64_t pinned(const kept_answers& board, const std::string& key,
                    query_cache::clock::time_point now = t0) {
  return count_of(board.find(key, now).get());
}

TEST(query_cache, the_board_gives_out_kept_answers_until_their_renewal_point) {
  kept_answers board;
  query_cache c{1s, 1 << 20, &board};
  EXPECT_EQ(pinned(board, "count|LIRF"), -1);
  store(c, "LIRF", "count|LIRF", 7);
  EXPECT_EQ(pinned(board, "count|LIRF"), 7);
  EXPECT_EQ(board.find("count|LIRF", t0).get(), c.find("count|LIRF", t0).answer)
    << "one answer, shared, not a copy";
  EXPECT_EQ(pinned(board, "count|LIRF", t0 + 499ms), 7);
  // From the renewal point on (0.5 to 0.9 of the TTL) requests go to the role, which
  // serves the kept answer while it renews it.
  EXPECT_EQ(pinned(board, "count|LIRF", t0 + 900ms), -1);
  auto due = c.find("count|LIRF", t0 + 900ms);
  ASSERT_TRUE(due.refresh);
  c.finish(*due.refresh, cached_answer{std::string{"8"}}, t0 + 900ms);
  EXPECT_EQ(pinned(board, "count|LIRF", t0 + 900ms), 8) << "the renewed answer is pinned";
}

TEST(query_cache, what_drops_an_answer_takes_it_off_the_board) {
  kept_answers board;
  {
    query_cache c{1h, 1 << 20, &board};
    store(c, "LIRF", "count|LIRF", 1);
    store(c, "EGLL", "count|EGLL", 2);
    store(c, "EGLL", "last|EGLL", 3);
    c.invalidate("LIRF");
    EXPECT_EQ(pinned(board, "count|LIRF"), -1) << "new flights at LIRF";
    EXPECT_EQ(pinned(board, "count|EGLL"), 2);
    // Expired in the cache (found after its TTL): off the board too.
    EXPECT_EQ(c.find("last|EGLL", t0 + 2h).answer, nullptr);
    EXPECT_EQ(board.find("last|EGLL", t0).get(), nullptr);
    // A second instance of the role (a restart) pins its own answers; the first one's end
    // takes off only its own.
    query_cache next{1h, 1 << 20, &board};
    store(next, "LICC", "count|LICC", 4);
  }
  EXPECT_EQ(pinned(board, "count|EGLL"), -1) << "the cache is gone: so are its answers";
  EXPECT_EQ(pinned(board, "count|LICC"), -1);

  query_cache first{1h, 1 << 20, &board};
  store(first, "LIRF", "count|LIRF", 5);
  auto second = std::make_unique<query_cache>(1h, 1 << 20, &board);
  store(*second, "LIRF", "count|LIRF", 6);
  first.invalidate("LIRF");
  EXPECT_EQ(pinned(board, "count|LIRF"), 6) << "the first cache dropped only its own pin";
  second.reset();
  EXPECT_EQ(pinned(board, "count|LIRF"), -1);
}

TEST(query_cache, evicted_answers_leave_the_board) {
  kept_answers board;
  const auto one = query_cache::weight("count|LIRF", cached_answer{std::string{"1"}});
  query_cache c{1h, 2 * one, &board};
  store(c, "LIRF", "count|LIRF", 1);
  store(c, "EGLL", "count|EGLL", 2);
  store(c, "LICC", "count|LICC", 3);
  EXPECT_EQ(pinned(board, "count|LIRF"), -1) << "the oldest went to make room";
  EXPECT_EQ(pinned(board, "count|LICC"), 3);
}

TEST(query_cache, a_ttl_of_zero_keeps_and_shares_nothing) {
  query_cache c{0s, 1 << 20};
  EXPECT_FALSE(c.enabled());
  auto a = c.wait("LIRF", "count|LIRF", [](const auto&) {});
  auto b = c.wait("LIRF", "count|LIRF", [](const auto&) {});
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  c.finish(*a, cached_answer{std::string{"1"}}, t0);
  EXPECT_EQ(c.find("count|LIRF", t0).answer, nullptr);
}

TEST(kept_answers, keys_name_the_normalised_query) {
  using namespace fw::data_collector;
  EXPECT_EQ(list_key({"LIRF", "arrivals", 100, caf::none, std::int64_t{1700000000}}),
            "list|LIRF|arrivals|100|-|1700000000");
  EXPECT_EQ(average_key("LIRF", "", 30), "average|LIRF||30");
  EXPECT_EQ(last_key("EGLL", "departures"), "last|EGLL|departures");
}

} // namespace
