#include "actors/common/exceptions.hpp"

#include "actors/common/log.hpp"
#include "messages/errors.hpp"

#include <caf/scheduled_actor.hpp>

namespace fw {

void log_exceptions(caf::scheduled_actor* self, const char* component) {
  self->set_exception_handler([component](caf::scheduled_actor*, std::exception_ptr& ptr) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ptr);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::error(component, "failed: ", what);
    return make_error(ec::internal, what);
  });
}

} // namespace fw
