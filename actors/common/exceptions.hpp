#pragma once
// An exception escaping an actor ends it (the supervisor then restarts the role). This
// makes that visible: the exception's text goes to the log and into the exit reason,
// instead of CAF's default handler printing to stdout and losing the message.

namespace caf {
class scheduled_actor;
} // namespace caf

namespace fw {

/// Call first thing in an actor's behaviour function (it also covers initialisation).
void log_exceptions(caf::scheduled_actor* self, const char* component);

} // namespace fw
