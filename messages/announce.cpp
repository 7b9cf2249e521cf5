#include "messages/announce.hpp"

#include "messages/errors.hpp"
#include "messages/type_ids.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace fw {

void announce_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::flightwatch>();
  cfg.add_error_category(ec_category,
                         [](std::uint8_t code, caf::atom_value, const caf::message& ctx) {
                           std::string out = "flightwatch.";
                           out += to_string(static_cast<ec>(code));
                           if (!ctx.empty()) {
                             out += ": ";
                             out += ctx.match_element<std::string>(0) ? ctx.get_as<std::string>(0)
                                                                       : to_string(ctx);
                           }
                           return out;
                         });
}

} // namespace fw
