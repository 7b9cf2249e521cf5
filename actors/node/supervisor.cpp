#include "actors/node/supervisor.hpp"

#include "actors/common/log.hpp"
#include "messages/errors.hpp"
#include "messages/type_ids.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <prometheus/counter.h>

#include <deque>

namespace fw {

namespace {

using clock = std::chrono::steady_clock;

struct child {
  child_spec spec;
  caf::actor handle;
  std::deque<clock::time_point> crashes; // within the restart window
  prometheus::Counter* restarts = nullptr;
};

struct supervisor_state {
  static constexpr const char* name = "node-supervisor";
  node_context_ptr ctx;
  supervisor_config cfg;
  std::vector<child> children;
  bool stopping = false;
  size_t stop_cursor = 0;     // children [0, stop_cursor) still to stop, from the back
  std::uint64_t stop_generation = 0;
  caf::error exit_reason;     // set when the node gives up on a role
};

using self_ptr = caf::stateful_actor<supervisor_state>*;

std::string render(const caf::error& reason) {
  if (!reason)
    return "normal exit";
  if (reason.category() == ec_category)
    return message_of(reason);
  if (reason.category() == caf::atom("exit"))
    return "exit reason " + std::to_string(reason.code());
  return caf::to_string(reason);
}

void start_child(self_ptr self, child& c) {
  c.handle = c.spec.spawn(self->system(), self->state.ctx);
  self->monitor(c.handle);
  self->state.ctx->directory->put(c.spec.name, c.handle);
}

child* find_child(self_ptr self, const caf::actor_addr& addr) {
  for (auto& c : self->state.children)
    if (c.handle && c.handle.address() == addr)
      return &c;
  return nullptr;
}

/// Stops the next running child from the back; quits once none is left.
void stop_next(self_ptr self) {
  auto& st = self->state;
  while (st.stop_cursor > 0) {
    auto& c = st.children[st.stop_cursor - 1];
    if (c.handle) {
      st.ctx->directory->erase(c.spec.name);
      self->send_exit(c.handle, caf::exit_reason::user_shutdown);
      self->delayed_send(self, st.cfg.shutdown_timeout, shutdown_atom::value,
                         ++st.stop_generation);
      return;
    }
    --st.stop_cursor;
  }
  st.ctx->directory->clear();
  self->quit(st.exit_reason);
}

void begin_shutdown(self_ptr self) {
  auto& st = self->state;
  if (st.stopping)
    return;
  st.stopping = true;
  st.stop_cursor = st.children.size();
  stop_next(self);
}

void on_crash(self_ptr self, child& c, const caf::error& reason) {
  auto& st = self->state;
  st.ctx->directory->erase(c.spec.name);
  c.handle = nullptr;
  auto now = clock::now();
  c.crashes.push_back(now);
  while (!c.crashes.empty() && now - c.crashes.front() > st.cfg.restart_window)
    c.crashes.pop_front();
  auto count = c.crashes.size();
  if (count > st.cfg.max_restarts) {
    auto window_s = std::chrono::duration_cast<std::chrono::seconds>(st.cfg.restart_window);
    auto why = "role " + c.spec.name + " crashed " + std::to_string(count) + " times within "
               + std::to_string(window_s.count()) + "s; stopping the node";
    log::error(supervisor_state::name, why);
    st.exit_reason = make_error(ec::internal, why);
    begin_shutdown(self);
    return;
  }
  auto delay = st.cfg.restart_backoff;
  for (size_t i = 1; i < count && delay < st.cfg.restart_backoff_max; ++i)
    delay *= 2;
  delay = std::min(delay, st.cfg.restart_backoff_max);
  log::error(supervisor_state::name, "role ", c.spec.name, " stopped unexpectedly (",
             render(reason), "); restart ", count, " of ", st.cfg.max_restarts, " in ",
             delay.count(), " ms");
  self->delayed_send(self, delay, restart_atom::value, c.spec.name);
}

caf::behavior supervisor(self_ptr self, node_context_ptr ctx, supervisor_config cfg) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.cfg = std::move(cfg);
  auto& family = prometheus::BuildCounter()
                   .Name("flightwatch_role_restarts_total")
                   .Help("Restarts of a role after it crashed")
                   .Register(st.ctx->metrics->registry());
  for (auto& spec : st.cfg.children) {
    child c{spec, {}, {}, &family.Add(st.ctx->metrics->labels(spec.name))};
    st.children.push_back(std::move(c));
  }
  for (auto& c : st.children)
    start_child(self, c);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto* c = find_child(self, msg.source);
    if (c == nullptr)
      return;
    auto& st = self->state;
    if (st.stopping) {
      c->handle = nullptr;
      if (st.stop_cursor > 0 && &st.children[st.stop_cursor - 1] == c)
        stop_next(self); // the child we were waiting for: go on with the next
      return;
    }
    on_crash(self, *c, msg.reason);
  });
  return {
    [self](shutdown_atom) { begin_shutdown(self); },
    [self](shutdown_atom, std::uint64_t generation) {
      // A child did not stop within shutdown_timeout: kill it and go on.
      auto& st = self->state;
      if (!st.stopping || generation != st.stop_generation || st.stop_cursor == 0)
        return;
      auto& c = st.children[st.stop_cursor - 1];
      if (c.handle) {
        log::warn(supervisor_state::name, "role ", c.spec.name, " did not stop within ",
                  st.cfg.shutdown_timeout.count(), " ms; killing it");
        self->send_exit(c.handle, caf::exit_reason::kill);
      }
    },
    [self](restart_atom, const std::string& name) {
      if (self->state.stopping)
        return;
      for (auto& c : self->state.children)
        if (c.spec.name == name && !c.handle) {
          start_child(self, c);
          c.restarts->Increment();
          log::info(supervisor_state::name, "role ", name, " restarted");
        }
    },
  };
}

} // namespace

supervisor_config supervisor_config::from(const node_settings& node) {
  supervisor_config cfg;
  cfg.max_restarts = node.max_restarts;
  cfg.restart_window = node.restart_window;
  cfg.restart_backoff = node.restart_backoff;
  cfg.restart_backoff_max = node.restart_backoff_max;
  cfg.shutdown_timeout = node.shutdown_timeout;
  return cfg;
}

std::string supervisor_config::validate() const {
  if (children.empty())
    return "no children to supervise";
  for (const auto& c : children)
    if (c.name.empty() || !c.spawn)
      return "a child has no name or no factory";
  if (max_restarts == 0)
    return "max_restarts must be at least 1";
  return {};
}

caf::actor spawn_supervisor(caf::actor_system& sys, node_context_ptr ctx, supervisor_config cfg) {
  return sys.spawn(supervisor, std::move(ctx), std::move(cfg));
}

} // namespace fw
