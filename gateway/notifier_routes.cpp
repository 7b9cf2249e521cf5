#include "gateway/notifier_routes.hpp"

#include "gateway/route_helpers.hpp"
#include "messages/json.hpp"

namespace fw::gateway {

void add_notifier_routes(router& r, const route_services& svc) {
  r.add(http::verb::get, "/notifier/notifications/{email}", "notifier",
        [svc](request_context& c, reply_fn reply) {
          std::int64_t limit = 50;
          if (auto err = int_param(c, "limit", limit))
            return reply(bad_request(c, *err));
          answer<std::vector<notification>>(svc, "notifier", c, std::move(reply),
                                            http::status::ok, as_json,
                                            list_notifications_atom::value,
                                            c.params.at("email"), limit);
        });
}

} // namespace fw::gateway
