#include "actors/common/gzip.hpp"

#include <zlib.h>

#include <limits>

namespace fw {

namespace {

constexpr int gzip_window_bits = 15 + 16; // largest window, gzip wrapper instead of zlib's
constexpr std::size_t chunk = 16 * 1024;

Bytef* in_ptr(std::string_view data) {
  // zlib's next_in is not const, but deflate and inflate only read from it.
  return reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
}

} // namespace

std::optional<std::string> gzip_compress(std::string_view data, int level) {
  if (data.size() > std::numeric_limits<uInt>::max())
    return std::nullopt;
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, gzip_window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return std::nullopt;
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = in_ptr(data);
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  // deflateBound leaves room for everything, so one call with Z_FINISH completes.
  const int rc = deflate(&zs, Z_FINISH);
  const auto written = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END)
    return std::nullopt;
  out.resize(written);
  return out;
}

std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_size) {
  if (data.size() > std::numeric_limits<uInt>::max())
    return std::nullopt;
  z_stream zs{};
  if (inflateInit2(&zs, gzip_window_bits) != Z_OK)
    return std::nullopt;
  std::string out;
  zs.next_in = in_ptr(data);
  zs.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (true) {
    char buf[chunk];
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END)
      break;
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > max_size) {
      rc = Z_BUF_ERROR;
      break;
    }
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0)
        break;
      inflateReset(&zs); // another member follows
    }
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END)
    return std::nullopt;
  return out;
}

} // namespace fw
