// Accept-Encoding negotiation and the gzip codec behind Content-Encoding: gzip.
#include "actors/common/gzip.hpp"
#include "gateway/content_coding.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using fw::gateway::accepts_gzip;

TEST(content_coding, gzip_is_accepted_when_listed_or_covered_by_a_wildcard) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("gzip, deflate, br"));          // Python requests, browsers
  EXPECT_TRUE(accepts_gzip("deflate , GZip ;q=0.5"));      // case and blanks do not matter
  EXPECT_TRUE(accepts_gzip("x-gzip"));
  EXPECT_TRUE(accepts_gzip("br;q=1.0, *;q=0.1"));
  EXPECT_TRUE(accepts_gzip("gzip;q=0.001"));
  EXPECT_TRUE(accepts_gzip("gzip;q=0, gzip;q=1"));         // the highest weight counts
}

TEST(content_coding, gzip_is_refused_when_absent_weighted_zero_or_malformed) {
  EXPECT_FALSE(accepts_gzip(""));                          // no preference: as it is
  EXPECT_FALSE(accepts_gzip("identity"));
  EXPECT_FALSE(accepts_gzip("deflate, br"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0.000, *"));           // listed at 0 beats the wildcard
  EXPECT_FALSE(accepts_gzip("*;q=0"));
  EXPECT_FALSE(accepts_gzip("gzipped, gzip2"));            // other codings
  EXPECT_FALSE(accepts_gzip("gzip;q=2"));                  // malformed weights are ignored
  EXPECT_FALSE(accepts_gzip("gzip;q=1.5"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0.5x"));
  EXPECT_FALSE(accepts_gzip("gzip;q="));
}

TEST(content_coding, gzip_round_trips_and_shrinks_repetitive_json) {
  std::string json = "[";
  for (int i = 0; i < 100; ++i)
    json += R"({"icao24":"a0000)" + std::to_string(i % 10)
            + R"(","est_departure_airport":"LIRF","est_arrival_airport":"EDDF"},)";
  json.back() = ']';
  auto packed = fw::gzip_compress(json);
  ASSERT_TRUE(packed);
  ASSERT_GE(packed->size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>((*packed)[0]), 0x1f); // the gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*packed)[1]), 0x8b);
  EXPECT_LT(packed->size() * 5, json.size());
  EXPECT_EQ(fw::gzip_decompress(*packed), json);
  EXPECT_EQ(fw::gzip_decompress(*fw::gzip_compress("")), "");
}

TEST(content_coding, gzip_decompress_rejects_garbage_truncation_and_bombs) {
  EXPECT_FALSE(fw::gzip_decompress("not gzip at all"));
  auto packed = *fw::gzip_compress(std::string(100000, 'x'));
  EXPECT_FALSE(fw::gzip_decompress(packed.substr(0, packed.size() / 2)));
  EXPECT_FALSE(fw::gzip_decompress(packed, 1000)); // larger than allowed
  EXPECT_EQ(fw::gzip_decompress(packed, 100000)->size(), 100000u);
}

} // namespace
