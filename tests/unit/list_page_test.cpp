// A page of flights as a response body: its gzip encoding is made only where it gains,
// always matches the text, and is reused only when a renewal finds the same page.
#include "actors/common/gzip.hpp"
#include "actors/data_collector/list_page.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using fw::data_collector::list_body;
using fw::data_collector::render_list;

std::vector<fw::flight> page_of(int n, const std::string& prefix = "a") {
  std::vector<fw::flight> out;
  for (int i = 0; i < n; ++i) {
    fw::flight f;
    f.icao24 = prefix + std::to_string(100000 + i);
    f.first_seen = 1'760'000'000 + i * 60;
    f.last_seen = f.first_seen + 3600;
    f.est_departure_airport = "LIRF";
    f.est_arrival_airport = "EDDF";
    f.callsign = "DLH" + std::to_string(i);
    out.push_back(std::move(f));
  }
  return out;
}

TEST(list_page, a_large_page_carries_its_gzip_encoding_and_a_small_one_none) {
  auto page = render_list(page_of(20), true);
  ASSERT_GE(page.text.size(), fw::data_collector::min_gzip_size);
  ASSERT_FALSE(page.gzip.empty());
  EXPECT_LT(page.gzip.size(), page.text.size());
  EXPECT_EQ(fw::gzip_decompress(page.gzip), page.text);

  EXPECT_TRUE(render_list(page_of(20), false).gzip.empty()); // not asked for
  auto one = render_list(page_of(1), true);
  ASSERT_LT(one.text.size(), fw::data_collector::min_gzip_size);
  EXPECT_TRUE(one.gzip.empty());
  EXPECT_EQ(render_list({}, true).text, "[]");
}

TEST(list_page, a_renewal_reuses_the_kept_encoding_only_for_the_same_text) {
  auto kept = render_list(page_of(20), true);
  // Marked, so that reuse shows: an unchanged page keeps the kept encoding as it is.
  list_body marked{kept.text, "kept encoding"};
  EXPECT_EQ(render_list(page_of(20), true, &marked).gzip, "kept encoding");
  // New flights: a fresh encoding of the new text, never the kept one.
  auto renewed = render_list(page_of(21), true, &marked);
  EXPECT_NE(renewed.gzip, "kept encoding");
  EXPECT_EQ(fw::gzip_decompress(renewed.gzip), renewed.text);
  auto other = render_list(page_of(20, "b"), true, &marked);
  EXPECT_EQ(fw::gzip_decompress(other.gzip), other.text);
  // A kept page without an encoding gets one.
  list_body plain{kept.text, ""};
  EXPECT_EQ(render_list(page_of(20), true, &plain).gzip, kept.gzip);
}

} // namespace
