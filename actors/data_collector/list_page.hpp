#pragma once
// A page of flights as the response body of GET /flights/<airport>: its JSON text and,
// for clients that accept it, its gzip encoding, both made once per query run on the
// storage worker and kept with the answer (query_cache.hpp).

#include "messages/types.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace fw::data_collector {

struct list_body {
  std::string text;
  std::string gzip; ///< empty when not made: too small to gain, or not asked for
};

/// Bodies shorter than this go out as they are: gzip's header and the compressor's startup
/// would eat most of the gain (an empty page is 2 bytes).
inline constexpr std::size_t min_gzip_size = 1024;

/// Which of `page`'s texts a client gets: its gzip encoding when it accepts that and the
/// page has one, else the JSON text. The role and the gateway (for kept pages) both
/// decide by it.
struct list_representation {
  const std::string& content; ///< a member of the page
  bool gzip;
};
list_representation representation_for(const list_body& page, bool accept_gzip);

/// The body a client gets of `page`, as representation_for() decides (a copy of it).
json_body body_for(const list_body& page, bool accept_gzip);

/// `flights` as a page, with its gzip encoding when `make_gzip` and it is large enough (a
/// default page of 100 flights: about 39 KB, 5 KB gzipped). When the page renews a kept
/// one (`previous`) with the same text, the kept encoding is reused: most renewals find no
/// new flights, and compressing costs about ten times the rendering.
list_body render_list(const std::vector<flight>& flights, bool make_gzip,
                      const list_body* previous = nullptr);

} // namespace fw::data_collector
