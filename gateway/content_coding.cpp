#include "gateway/content_coding.hpp"

#include "actors/common/text.hpp"

#include <algorithm>
#include <optional>

namespace fw::gateway {

namespace {

/// The weight of one list element's parameters ("q=0.5"; 1 without q); nullopt when q is
/// malformed (the element is then ignored, as an unknown one would be).
std::optional<double> weight_of(std::string_view params) {
  double q = 1.0;
  while (!params.empty()) {
    const auto semi = params.find(';');
    auto param = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    const auto eq = param.find('=');
    if (eq == std::string_view::npos || to_lower(trim(param.substr(0, eq))) != "q")
      continue;
    auto value = trim(param.substr(eq + 1));
    // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
    if (value.empty() || value.size() > 5 || (value[0] != '0' && value[0] != '1'))
      return std::nullopt;
    if (value.size() > 1 && value[1] != '.')
      return std::nullopt;
    double fraction = 0, scale = 0.1;
    for (std::size_t i = 2; i < value.size(); ++i, scale /= 10) {
      if (value[i] < '0' || value[i] > '9')
        return std::nullopt;
      fraction += (value[i] - '0') * scale;
    }
    if (value[0] == '1' && fraction > 0)
      return std::nullopt;
    q = value[0] == '1' ? 1.0 : fraction;
  }
  return q;
}

} // namespace

bool accepts_gzip(std::string_view accept_encoding) {
  std::optional<double> gzip, any;
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    auto element = accept_encoding.substr(0, comma);
    accept_encoding = comma == std::string_view::npos ? std::string_view{}
                                                      : accept_encoding.substr(comma + 1);
    const auto semi = element.find(';');
    const auto coding = to_lower(trim(element.substr(0, semi)));
    const auto q =
      weight_of(semi == std::string_view::npos ? std::string_view{} : element.substr(semi + 1));
    if (!q)
      continue;
    if (coding == "gzip" || coding == "x-gzip")
      gzip = gzip ? std::max(*gzip, *q) : *q;
    else if (coding == "*")
      any = any ? std::max(*any, *q) : *q;
  }
  if (gzip)
    return *gzip > 0;
  return any && *any > 0;
}

} // namespace fw::gateway
