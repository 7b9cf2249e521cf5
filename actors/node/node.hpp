#pragma once
// Runs one node: the actor system, the supervisor with the configured roles, the signal
// handling. main() parses the command line and calls run_node().

#include "config/settings.hpp"

namespace fw {

/// Blocks until SIGINT/SIGTERM (exit code 0 after an ordered shutdown) or until the
/// supervisor gives up on a role (exit code 1).
int run_node(const settings& cfg);

} // namespace fw
