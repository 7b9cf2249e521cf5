#pragma once
// Content negotiation for response bodies (RFC 9110 §12.5.3, Accept-Encoding).

#include <string_view>

namespace fw::gateway {

/// Whether a request whose Accept-Encoding field values are `accept_encoding` (several
/// fields joined with commas; empty when absent) accepts a gzip-encoded body. Codings are
/// case-insensitive; "x-gzip" is gzip; "*" covers gzip unless gzip is listed itself; a
/// coding with q=0 is refused. No field means no preference: the body goes unencoded, as
/// clients that send none (curl without --compressed, the seed's) expect.
bool accepts_gzip(std::string_view accept_encoding);

} // namespace fw::gateway
