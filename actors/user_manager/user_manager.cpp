#include "actors/user_manager/user_manager.hpp"

#include "actors/common/call_batcher.hpp"
#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "actors/user_manager/idempotent_command.hpp"
#include "actors/user_manager/validation.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "messages/json.hpp"
#include "persistence/db_call.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>

namespace fw {

namespace {

using namespace user_manager;
using write_result = user_store::write_result;

/// A POST /users waiting for its batch (see call_batcher).
struct create_call {
  keyed_request request;
  user u;
  caf::typed_response_promise<command_reply> rp;
};

/// A lookup of one user waiting for its batch.
struct find_call {
  std::string email;
  std::function<void(caf::expected<std::optional<user>>)> answer;
};

/// Batches of a kind at the database at once: one. The calls that arrive meanwhile make
/// the next batch larger, which costs the database less per call; with creates in one
/// statement a second batch in flight saved less waiting than that (docs/performance.md,
/// "Creates in one statement").
constexpr std::size_t batches_in_flight = 1;
/// Calls per batch at most (the array parameters of one statement).
constexpr std::size_t max_batch = 128;

struct user_manager_state {
  static constexpr const char* name = "user-manager";
  node_context_ptr ctx;
  idempotency_policy policy{};
  std::chrono::milliseconds store_timeout{};
  prometheus::Counter* created = nullptr;
  prometheus::Counter* deleted = nullptr;
  prometheus::Family<prometheus::Counter>* replays = nullptr;
  call_batcher<create_call> creates{batches_in_flight, max_batch};
  call_batcher<find_call> finds{batches_in_flight, max_batch};

  caf::actor storage() const {
    return ctx->directory->get("storage");
  }

  void count_replay(const char* operation) {
    auto labels = ctx->metrics->labels("user_manager");
    labels.emplace("operation", operation);
    replays->Add(labels).Increment();
  }
};

using user_manager_impl = user_manager_actor::extend<caf::reacts_to<purge_atom>>;
using self_pointer = user_manager_impl::stateful_pointer<user_manager_state>;

command_reply bad_request(std::string message) {
  return {400, error_body("invalid_argument", message), false};
}

/// Runs the idempotent command `cmd` on a storage worker and answers through `rp`;
/// `after` sees every answer (metrics, follow-up work) before it is delivered.
template <class After>
caf::typed_response_promise<command_reply>
run_command(self_pointer self, const char* operation, std::string key, std::string fingerprint,
            std::string email, command cmd, After after) {
  auto rp = self->make_response_promise<command_reply>();
  auto& st = self->state;
  db_call<command_reply>(
    self, st.storage(), operation,
    [policy = st.policy, key = std::move(key), fingerprint = std::move(fingerprint),
     email = std::move(email), cmd = std::move(cmd)](store_session& s) {
      return run_idempotent(s, policy, key, fingerprint, email, cmd);
    },
    [self, rp, operation, after](caf::expected<command_reply> reply) mutable {
      if (!reply) {
        rp.deliver(reply.error());
        return;
      }
      if (reply->replayed)
        self->state.count_replay(operation);
      after(*reply, rp);
    });
  return rp;
}

command_reply create_reply(write_result result, const std::string& email) {
  switch (result) {
  case write_result::ok:
    return {201, message_body("User created successfully"), false};
  case write_result::tax_code_taken:
    return {409, error_body("conflict", "a user with this tax_code already exists"), false};
  default:
    return {409, error_body("conflict", "a user with email " + email + " already exists"),
            false};
  }
}

/// The command of a batch of creates: inserts the users at `which`.
std::vector<command_reply> create_users(store_session& s, const std::vector<user>& users,
                                        const std::vector<std::size_t>& which) {
  std::vector<user> chosen;
  chosen.reserve(which.size());
  for (auto i : which)
    chosen.push_back(users[i]);
  auto results = s.users().create_many(chosen);
  std::vector<command_reply> out;
  out.reserve(results.size());
  for (std::size_t k = 0; k < results.size(); ++k)
    out.push_back(create_reply(results[k], chosen[k].email));
  return out;
}

/// A batch of creates, answers in its order. First the quick way, every user with its key
/// in one step (create_many_with_keys); the rest (a key seen before, a taken email or tax
/// code, a key or email twice in the batch, all of them when that step fails) the general
/// way, which tells each of them why.
std::vector<caf::expected<command_reply>> create_batch(store_session& s,
                                                       const idempotency_policy& policy,
                                                       const std::vector<keyed_request>& requests,
                                                       const std::vector<user>& users) {
  std::unordered_map<std::string_view, int> key_uses, email_uses;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    ++key_uses[requests[i].key];
    ++email_uses[users[i].email];
  }
  std::vector<user_store::keyed_user> quick;
  std::vector<std::size_t> quick_at; // the request of each
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].key.empty() || key_uses[requests[i].key] > 1
        || email_uses[users[i].email] > 1)
      continue;
    quick.push_back({users[i], requests[i].key, requests[i].fingerprint});
    quick_at.push_back(i);
  }
  const auto created = create_reply(write_result::ok, {});
  std::vector<bool> done(requests.size(), false);
  try {
    auto stored = s.users().create_many_with_keys(quick, created.status, created.body,
                                                  unix_ms());
    for (std::size_t q = 0; q < quick.size(); ++q)
      done[quick_at[q]] = stored[q];
  } catch (const storage_unavailable&) {
    throw;
  } catch (const std::exception& e) {
    log::debug("storage", "create_user: the quick way failed for a batch of ", quick.size(),
               ", taking the general way: ", e.what());
  }
  auto create_all = [](const std::vector<user>& all) {
    return [&all](store_session& s, const std::vector<std::size_t>& which) {
      return create_users(s, all, which);
    };
  };
  // Nothing done in one step (always so on SQLite, whose store has no such step): the
  // whole batch goes the general way, without copying it.
  if (std::find(done.begin(), done.end(), true) == done.end())
    return run_idempotent_batch(s, policy, "create_user", requests, create_all(users));
  std::vector<keyed_request> rest_requests;
  std::vector<user> rest_users;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (done[i])
      continue;
    rest_requests.push_back(requests[i]);
    rest_users.push_back(users[i]);
  }
  auto rest = run_idempotent_batch(s, policy, "create_user", rest_requests,
                                   create_all(rest_users));
  std::vector<caf::expected<command_reply>> out;
  out.reserve(requests.size());
  for (std::size_t i = 0, r = 0; i < requests.size(); ++i)
    out.push_back(done[i] ? caf::expected<command_reply>{created} : std::move(rest[r++]));
  return out;
}

/// Sends a batch of creates (nothing when empty): one storage task.
void send_creates(self_pointer self, std::vector<create_call> batch) {
  if (batch.empty())
    return;
  auto& st = self->state;
  std::vector<keyed_request> requests;
  std::vector<user> users;
  std::vector<caf::typed_response_promise<command_reply>> promises;
  requests.reserve(batch.size());
  users.reserve(batch.size());
  promises.reserve(batch.size());
  for (auto& call : batch) {
    requests.push_back(std::move(call.request));
    users.push_back(std::move(call.u));
    promises.push_back(std::move(call.rp));
  }
  using replies = std::vector<caf::expected<command_reply>>;
  db_call<replies>(
    self, st.storage(), "create_user",
    [policy = st.policy, requests = std::move(requests),
     users = std::move(users)](store_session& s) {
      return create_batch(s, policy, requests, users);
    },
    [self, promises = std::move(promises)](caf::expected<replies> answers) mutable {
      auto& st = self->state;
      for (std::size_t i = 0; i < promises.size(); ++i) {
        if (!answers) {
          promises[i].deliver(answers.error());
        } else if (auto& reply = (*answers)[i]; !reply) {
          promises[i].deliver(reply.error());
        } else {
          if (reply->replayed)
            st.count_replay("create_user");
          else if (reply->status == 201)
            st.created->Increment();
          promises[i].deliver(std::move(*reply));
        }
      }
      send_creates(self, st.creates.returned());
    });
}

/// Sends a batch of lookups (nothing when empty): one storage task, one statement.
void send_finds(self_pointer self, std::vector<find_call> batch) {
  if (batch.empty())
    return;
  std::vector<std::string> emails;
  emails.reserve(batch.size());
  for (const auto& call : batch)
    emails.push_back(call.email);
  using found = std::vector<std::optional<user>>;
  db_call<found>(
    self, self->state.storage(), "find_user",
    [emails = std::move(emails)](store_session& s) { return s.users().find_many(emails); },
    [self, batch = std::move(batch)](caf::expected<found> users) mutable {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (users)
          batch[i].answer(std::move((*users)[i]));
        else
          batch[i].answer(users.error());
      }
      send_finds(self, self->state.finds.returned());
    });
}

/// Looks the user up, in the next batch of lookups.
void find_user(self_pointer self, std::string email,
               std::function<void(caf::expected<std::optional<user>>)> answer) {
  send_finds(self, self->state.finds.add({std::move(email), std::move(answer)}));
}

/// After a user is deleted, their interests go too (the seed's DeleteUserInterests). The
/// delete has happened whatever the data-collector answers, so its failure is only logged.
void drop_interests(self_pointer self, const std::string& email, command_reply reply,
                    caf::typed_response_promise<command_reply> rp) {
  auto collector = self->state.ctx->directory->get("data-collector");
  if (!collector) {
    rp.deliver(std::move(reply));
    return;
  }
  self->request(collector, self->state.store_timeout, delete_interests_atom::value, email)
    .then(
      [rp, reply](std::uint64_t) mutable { rp.deliver(reply); },
      [rp, reply, email](caf::error& err) mutable {
        log::warn("user-manager", "interests of deleted user ", email,
                  " were not removed: ", message_of(err));
        rp.deliver(reply);
      });
}

void schedule_purge(self_pointer self) {
  self->delayed_send(self, self->state.ctx->cfg.user_manager.idempotency_purge_interval,
                     purge_atom::value);
}

user_manager_impl::behavior_type user_manager_role(self_pointer self, node_context_ptr ctx) {
  log_exceptions(self, user_manager_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  const auto& cfg = st.ctx->cfg;
  st.policy = {cfg.user_manager.idempotency_ttl, cfg.user_manager.idempotency_in_progress_timeout};
  st.store_timeout = cfg.storage.timeout;
  auto& registry = st.ctx->metrics->registry();
  auto labels = st.ctx->metrics->labels("user_manager");
  st.created = &prometheus::BuildCounter()
                  .Name("flightwatch_users_created_total")
                  .Help("Users registered")
                  .Register(registry)
                  .Add(labels);
  st.deleted = &prometheus::BuildCounter()
                  .Name("flightwatch_users_deleted_total")
                  .Help("Users deleted")
                  .Register(registry)
                  .Add(labels);
  st.replays = &prometheus::BuildCounter()
                  .Name("flightwatch_idempotent_replays_total")
                  .Help("Requests answered from a completed Idempotency-Key, by operation")
                  .Register(registry);
  schedule_purge(self);
  return {
    [self](ping_atom) { return self->state.ctx->make_pong(user_manager_state::name); },
    [](health_atom) { return component_health{user_manager_state::name, true, {}}; },
    [self](create_user_atom, std::string& key,
           user& u) -> caf::result<command_reply> {
      if (key.empty())
        return bad_request("the Idempotency-Key header is required");
      if (auto err = check_idempotency_key(key))
        return bad_request(*err);
      if (auto err = normalize_and_check(u))
        return bad_request(*err);
      auto fingerprint = request_fingerprint("POST /users", nlohmann::json(u).dump());
      auto rp = self->make_response_promise<command_reply>();
      keyed_request request{std::move(key), std::move(fingerprint), u.email};
      send_creates(self, self->state.creates.add({std::move(request), std::move(u), rp}));
      return rp;
    },
    [self](delete_user_atom, std::string& key,
           std::string& raw_email) -> caf::result<command_reply> {
      if (key.empty())
        return bad_request("the Idempotency-Key header is required");
      if (auto err = check_idempotency_key(key))
        return bad_request(*err);
      auto email = normalize_email(raw_email);
      auto fingerprint = request_fingerprint("DELETE /users", email);
      return run_command(
        self, "delete_user", std::move(key), std::move(fingerprint), email,
        [email](store_session& s) -> command_reply {
          if (s.users().remove(email))
            return {200, message_body("User deleted successfully"), false};
          return {404, error_body("not_found", "user " + email + " not found"), false};
        },
        [self, email](const command_reply& reply, auto& rp) {
          if (reply.status != 200) {
            rp.deliver(reply);
            return;
          }
          if (!reply.replayed)
            self->state.deleted->Increment();
          drop_interests(self, email, reply, rp);
        });
    },
    [self](link_telegram_atom, std::string& key, std::string& raw_email,
           std::int64_t chat_id) -> caf::result<command_reply> {
      if (auto err = check_idempotency_key(key))
        return bad_request(*err);
      if (chat_id == 0)
        return bad_request("telegram_chat_id must not be 0");
      auto email = normalize_email(raw_email);
      if (auto err = check_email(email))
        return bad_request(*err);
      auto fingerprint =
        request_fingerprint("POST /users/telegram", email + "\n" + std::to_string(chat_id));
      return run_command(
        self, "link_telegram", std::move(key), std::move(fingerprint), email,
        [email, chat_id](store_session& s) -> command_reply {
          switch (s.users().set_telegram_chat_id(email, chat_id)) {
            case write_result::ok:
              return {200, message_body("Telegram chat ID linked successfully"), false};
            case write_result::not_found:
              return {404, error_body("not_found", "user " + email + " not found"), false};
            default:
              return {409,
                      error_body("conflict", "this telegram_chat_id belongs to another user"),
                      false};
          }
        },
        [](const command_reply& reply, auto& rp) { rp.deliver(reply); });
    },
    [self](list_users_atom) -> caf::result<std::vector<user>> {
      auto rp = self->make_response_promise<std::vector<user>>();
      db_call<std::vector<user>>(
        self, self->state.storage(), "list_users",
        [](store_session& s) { return s.users().list(); },
        [rp](caf::expected<std::vector<user>> users) mutable {
          if (users)
            rp.deliver(std::move(*users));
          else
            rp.deliver(users.error());
        });
      return rp;
    },
    [self](get_user_atom, const std::string& raw_email) -> caf::result<user> {
      auto rp = self->make_response_promise<user>();
      auto email = normalize_email(raw_email);
      find_user(self, email, [rp, email](caf::expected<std::optional<user>> found) mutable {
        if (!found)
          rp.deliver(found.error());
        else if (!*found)
          rp.deliver(make_error(ec::not_found, "user " + email + " not found"));
        else
          rp.deliver(std::move(**found));
      });
      return rp;
    },
    [self](user_exists_atom, const std::string& raw_email) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      auto email = normalize_email(raw_email);
      find_user(self, email, [rp](caf::expected<std::optional<user>> found) mutable {
        if (found)
          rp.deliver(found->has_value());
        else
          rp.deliver(found.error());
      });
      return rp;
    },
    [self](telegram_link_atom, const std::string& raw_email) -> caf::result<std::string> {
      auto notifier = self->state.ctx->directory->get("notifier");
      if (!notifier)
        return make_error(ec::unavailable, "role notifier is not running");
      auto rp = self->make_response_promise<std::string>();
      auto email = normalize_email(raw_email);
      self->request(notifier, self->state.store_timeout, bot_name_atom::value)
        .then(
          [self, rp, email](std::string& bot) mutable {
            db_call<std::optional<std::string>>(
              self, self->state.storage(), "create_telegram_link",
              [email](store_session& s) -> std::optional<std::string> {
                if (!s.users().find(email))
                  return std::nullopt;
                auto token = random_hex_id();
                s.telegram_links().create(token, email, unix_ms());
                return token;
              },
              [rp, email, bot](caf::expected<std::optional<std::string>> token) mutable {
                if (!token)
                  rp.deliver(token.error());
                else if (!*token)
                  rp.deliver(make_error(ec::not_found, "user " + email + " not found"));
                else
                  rp.deliver("https://t.me/" + bot + "?start=" + **token);
              });
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](purge_atom) {
      auto ttl = self->state.policy.ttl;
      db_call<std::uint64_t>(
        self, self->state.storage(), "purge_idempotency_keys",
        [ttl](store_session& s) {
          return s.idempotency().purge(unix_ms() - ttl.count());
        },
        [self](caf::expected<std::uint64_t> purged) {
          if (!purged)
            log::warn("user-manager", "purging expired idempotency keys failed: ",
                      message_of(purged.error()));
          else if (*purged > 0)
            log::info("user-manager", "purged ", *purged, " expired idempotency keys");
          schedule_purge(self);
        });
    },
  };
}

} // namespace

caf::actor spawn_user_manager(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(user_manager_role, ctx));
}

} // namespace fw
