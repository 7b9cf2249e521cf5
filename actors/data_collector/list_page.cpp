#include "actors/data_collector/list_page.hpp"

#include "actors/common/gzip.hpp"
#include "messages/json.hpp"

namespace fw::data_collector {

list_body render_list(const std::vector<flight>& flights, bool make_gzip,
                      const list_body* previous) {
  list_body page{to_json_text(flights), {}};
  if (!make_gzip || page.text.size() < min_gzip_size)
    return page;
  if (previous && previous->text == page.text && !previous->gzip.empty())
    page.gzip = previous->gzip;
  else
    page.gzip = gzip_compress(page.text).value_or(std::string{}); // identity if zlib fails
  return page;
}

list_representation representation_for(const list_body& page, bool accept_gzip) {
  if (accept_gzip && !page.gzip.empty())
    return {page.gzip, true};
  return {page.text, false};
}

json_body body_for(const list_body& page, bool accept_gzip) {
  auto r = representation_for(page, accept_gzip);
  return {r.content, r.gzip};
}

} // namespace fw::data_collector
