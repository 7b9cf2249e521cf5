#pragma once
// gzip (RFC 1952) through zlib, for response bodies sent with Content-Encoding: gzip.

#include <optional>
#include <string>
#include <string_view>

namespace fw {

/// `data` as one gzip member; nullopt if zlib fails (out of memory). Level 1 (fastest) to
/// 9 (smallest); 6 is zlib's default trade-off.
std::optional<std::string> gzip_compress(std::string_view data, int level = 6);

/// The content of a gzip stream (all its members); nullopt if it is not valid gzip or would
/// exceed `max_size` bytes.
std::optional<std::string> gzip_decompress(std::string_view data,
                                           std::size_t max_size = 64u << 20);

} // namespace fw
