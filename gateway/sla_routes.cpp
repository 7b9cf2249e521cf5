#include "gateway/sla_routes.hpp"

#include "gateway/route_helpers.hpp"

namespace fw::gateway {

namespace {

constexpr const char* role = "sla-watchdog";

} // namespace

void add_sla_routes(router& r, const route_services& svc) {
  r.add(http::verb::get, "/sla-detector/sla/config", role,
        [svc](request_context& c, reply_fn reply) {
          answer_json_text(svc, role, c, std::move(reply), sla_config_atom::value);
        });
  // The body is read by the watchdog itself: it answers in the seed's
  // {"error": "Update failed", "message": ...} shape, which names the offending field.
  r.add(http::verb::post, "/sla-detector/sla/config", role,
        [svc](request_context& c, reply_fn reply) {
          answer_command(svc, role, c, std::move(reply), update_sla_config_atom::value,
                         std::string{c.req.body()});
        });
  r.add(http::verb::get, "/sla-detector/breach/stats", role,
        [svc](request_context& c, reply_fn reply) {
          answer_json_text(svc, role, c, std::move(reply), breach_stats_atom::value);
        });
}

} // namespace fw::gateway
