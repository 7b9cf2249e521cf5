#pragma once

namespace caf {
class actor_system_config;
} // namespace caf

namespace fw {

/// Announces every message type and the error category of the project to `cfg`.
/// Call once per actor system, before it starts.
void announce_types(caf::actor_system_config& cfg);

} // namespace fw
