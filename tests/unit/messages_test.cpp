// Every message type survives CAF serialization (as a whole message, which needs the
// type announced) and its JSON mapping; errors keep their code and text.

#include "messages/announce.hpp"
#include "messages/errors.hpp"
#include "messages/json.hpp"
#include "messages/type_ids.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace {

struct messages_test : ::testing::Test {
  struct config : caf::actor_system_config {
    config() {
      fw::announce_types(*this);
    }
  };
  config cfg;
  caf::actor_system sys{cfg};

  template <class T>
  T caf_round_trip(const T& x) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    auto msg = caf::make_message(x);
    EXPECT_FALSE(sink(msg)) << "serialize " << caf::type_name<T>::value;
    caf::message copy;
    caf::binary_deserializer source{sys, buf};
    EXPECT_FALSE(source(copy)) << "deserialize " << caf::type_name<T>::value;
    EXPECT_TRUE(copy.match_elements<T>());
    return copy.get_as<T>(0);
  }

  template <class T>
  T json_round_trip(const T& x) {
    nlohmann::json j = x;
    return nlohmann::json::parse(j.dump()).get<T>();
  }
};

TEST_F(messages_test, pong_round_trips) {
  fw::pong x{"user-manager", "node-1"};
  EXPECT_EQ(caf_round_trip(x), x);
  EXPECT_EQ(json_round_trip(x), x);
  nlohmann::json j = x;
  EXPECT_EQ(j.at("message"), "pong");
}

TEST_F(messages_test, component_health_round_trips) {
  fw::component_health ready{"storage", true, ""};
  fw::component_health down{"storage", false, "connection refused"};
  EXPECT_EQ(caf_round_trip(ready), ready);
  EXPECT_EQ(caf_round_trip(down), down);
  EXPECT_EQ(json_round_trip(ready), ready);
  EXPECT_EQ(json_round_trip(down), down);
}

TEST_F(messages_test, user_round_trips_with_and_without_optional_fields) {
  fw::user full{"mario.rossi@gmail.com", "Mario", "Rossi", "RSSMRA85D15Z404E",
                "IT19Z1234567890000123456789", std::int64_t{5'000'000'000}};
  fw::user minimal{"a@b.io", "A", "B", "", "", caf::none};
  EXPECT_EQ(caf_round_trip(full), full);
  EXPECT_EQ(caf_round_trip(minimal), minimal);
  EXPECT_EQ(json_round_trip(full), full);
  EXPECT_EQ(json_round_trip(minimal), minimal);
  nlohmann::json j = minimal;
  EXPECT_TRUE(j.at("tax_code").is_null());
  EXPECT_TRUE(j.at("iban").is_null());
  EXPECT_TRUE(j.at("telegram_chat_id").is_null());
  EXPECT_EQ(nlohmann::json(full).at("telegram_chat_id"), 5'000'000'000);
  std::vector<fw::user> both{full, minimal};
  EXPECT_EQ(caf_round_trip(both), both);
}

TEST_F(messages_test, command_reply_round_trips) {
  fw::command_reply x{201, R"({"message":"User created successfully"})", true};
  EXPECT_EQ(caf_round_trip(x), x);
}

TEST_F(messages_test, error_and_message_bodies_are_json) {
  auto e = nlohmann::json::parse(fw::error_body("conflict", "a \"quoted\" text"));
  EXPECT_EQ(e.at("error"), "conflict");
  EXPECT_EQ(e.at("message"), "a \"quoted\" text");
  EXPECT_EQ(nlohmann::json::parse(fw::message_body("done")).at("message"), "done");
}

TEST_F(messages_test, flight_round_trips_in_the_seed_column_names) {
  fw::flight full{"3c675a", 1739690000, "EDDF", 1739700000, "LIRF", "DLH123",
                  std::int64_t{1234}, std::int64_t{56}, std::int64_t{789}, std::int64_t{12},
                  std::int64_t{1}, std::int64_t{2}};
  fw::flight sparse{"406287", 1, "", 2, "", "", caf::none, caf::none, caf::none, caf::none,
                    caf::none, caf::none};
  EXPECT_EQ(caf_round_trip(full), full);
  EXPECT_EQ(caf_round_trip(sparse), sparse);
  EXPECT_EQ(json_round_trip(full), full);
  EXPECT_EQ(json_round_trip(sparse), sparse);
  nlohmann::json j = full;
  EXPECT_EQ(j.at("est_departure_airport_horiz_distance"), 1234);
  EXPECT_TRUE(nlohmann::json(sparse).at("callsign").is_null());
  std::vector<fw::flight> both{full, sparse};
  EXPECT_EQ(caf_round_trip(both), both);
}

TEST_F(messages_test, flights_written_directly_are_the_dom_text_byte_for_byte) {
  fw::flight full{"3c675a", 1739690000, "EDDF", 1739700000, "LIRF", "DLH123",
                  std::int64_t{-1234}, std::int64_t{0}, std::int64_t{789},
                  std::int64_t{9'007'199'254'740'993}, std::int64_t{1}, std::int64_t{2}};
  fw::flight sparse{"", -1, "", 2, "", "", caf::none, caf::none, caf::none, caf::none,
                    caf::none, caf::none};
  fw::flight odd{"a\"b\\c", 0, "LI\tRF", 0, "\x01\x1f\x7f", "\xc3\xa9\xe2\x9c\x88 \b\f\n\r",
                 caf::none, std::int64_t{5}, caf::none, caf::none, caf::none, caf::none};
  for (const auto& f : {full, sparse, odd})
    EXPECT_EQ(fw::to_json_text(f), nlohmann::json(f).dump());
  std::vector<fw::flight> list{full, sparse, odd};
  EXPECT_EQ(fw::to_json_text(list), nlohmann::json(list).dump());
  EXPECT_EQ(fw::to_json_text(std::vector<fw::flight>{}), "[]");
}

TEST_F(messages_test, interest_query_average_and_traffic_event_round_trip) {
  fw::interest i{"a@b.io", "LIRF", std::int64_t{20}, caf::none};
  EXPECT_EQ(caf_round_trip(i), i);
  EXPECT_EQ(json_round_trip(i), i);
  EXPECT_TRUE(nlohmann::json(i).at("low_value").is_null());
  std::vector<fw::interest> is{i};
  EXPECT_EQ(caf_round_trip(is), is);
  fw::flight_query q{"LIRF", "arrivals", 50, std::int64_t{10}, caf::none};
  EXPECT_EQ(caf_round_trip(q), q);
  fw::flight_average a{"LIRF", "", 7, 700, 100.0};
  EXPECT_EQ(caf_round_trip(a), a);
  EXPECT_EQ(nlohmann::json(a).at("average_flights_per_day"), 100.0);
  fw::traffic_event e{"e-1", "a@b.io", "LIRF", 42, std::int64_t{40}, std::int64_t{5}, 100, 200};
  EXPECT_EQ(caf_round_trip(e), e);
  EXPECT_EQ(json_round_trip(e), e);
  fw::alert_notice n{"n-1", "a@b.io", "LIRF", "firing",
                     "The number of flights (42) exceeded the high threshold of 40.", 42, 40,
                     1795319979560};
  EXPECT_EQ(caf_round_trip(n), n);
  EXPECT_EQ(json_round_trip(n), n);
  fw::telegram_attempt a429{"retry_after", 6, "Too Many Requests: retry after 6"};
  EXPECT_EQ(caf_round_trip(a429), a429);
  fw::notification note{"n-1:firing", "a@b.io", "LIRF", "firing", "telegram", "text",
                        "sent", "", 1, 10, 20};
  std::vector<fw::notification> notes{note};
  EXPECT_EQ(caf_round_trip(notes), notes);
  EXPECT_TRUE(nlohmann::json(note).at("error").is_null());
}

TEST_F(messages_test, json_with_missing_field_is_rejected) {
  EXPECT_THROW(nlohmann::json::parse(R"({"node":"n"})").get<fw::pong>(),
               nlohmann::json::exception);
  EXPECT_THROW(nlohmann::json::parse(R"({"component":"x","ready":"yes"})")
                 .get<fw::component_health>(),
               nlohmann::json::exception);
}

TEST_F(messages_test, every_type_of_the_block_is_announced) {
  // The block covers pong, component_health, user, std::vector<user>, command_reply,
  // flight, std::vector<flight>, interest, std::vector<interest>, flight_query,
  // flight_average, traffic_event, alert_notice, telegram_attempt, notification,
  // std::vector<notification>, prometheus_sample, std::vector<prometheus_sample>,
  // std::vector<std::string>, node_info, json_body and the local-only bridge_task and
  // db_task.
  auto first = caf::id_block::flightwatch::begin;
  auto last = caf::id_block::flightwatch::end;
  EXPECT_EQ(last - first, 23u);
  EXPECT_STREQ(caf::type_name_by_id<caf::type_id<fw::pong>::value>::value, "fw::pong");
}

TEST_F(messages_test, a_gzip_body_crosses_nodes_byte_for_byte) {
  // gzip output holds NUL and high bytes; a peer's gateway must get every one of them.
  fw::json_body body{std::string{"\x1f\x8b\x08\x00\xff\x00tail", 10}, true};
  EXPECT_EQ(caf_round_trip(body), body);
}

TEST_F(messages_test, errors_keep_code_and_message) {
  auto err = fw::make_error(fw::ec::not_found, "no user mario@example.com");
  EXPECT_EQ(fw::code_of(err), fw::ec::not_found);
  EXPECT_EQ(fw::message_of(err), "no user mario@example.com");
  auto copy = caf_round_trip(err);
  EXPECT_EQ(fw::code_of(copy), fw::ec::not_found);
  EXPECT_EQ(fw::message_of(copy), "no user mario@example.com");
  EXPECT_EQ(fw::code_of(caf::make_error(caf::sec::request_timeout)), fw::ec::internal);
  EXPECT_NE(sys.render(err).find("not_found"), std::string::npos) << sys.render(err);
}

} // namespace
