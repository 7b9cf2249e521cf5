#pragma once
// At-most-once execution of a state-changing request under an Idempotency-Key (the seed's
// four scenarios plus request binding, expiry and crash recovery). Runs on a storage
// worker thread, inside one db_task and one database transaction: claim the key, run the
// command, store its answer, commit. A completed key replays the stored answer; a key held
// by a running request answers 409 (PostgreSQL; on SQLite, where writes take turns, the
// second request waits for the first and replays its answer); a key used for a different
// request answers 422. Many requests can run as one batch: one transaction, one claim
// statement and one commit for all of them (group commit).

#include "messages/types.hpp"
#include "messages/unix_time.hpp"
#include "persistence/stores.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fw::user_manager {

struct idempotency_policy {
  std::chrono::milliseconds ttl;                 // completed keys count for this long
  std::chrono::milliseconds in_progress_timeout; // a claim older than this is abandoned
};

/// What identifies one request: the operation (method and route) and its canonical
/// input. The key is bound to the SHA-256 of both.
std::string request_fingerprint(std::string_view operation, std::string_view canonical_input);

/// A fresh random claim token.
std::string new_claim_token();

using command = std::function<command_reply(store_session&)>;

/// Runs `cmd` at most once for `key` (with `fingerprint`); an empty key runs it directly.
/// A command that answers 5xx or throws is rolled back with the claim, so a retry runs
/// again.
command_reply run_idempotent(store_session& session, const idempotency_policy& policy,
                             const std::string& key, const std::string& fingerprint,
                             const std::string& user_email, const command& cmd);

/// One request of a batch: its Idempotency-Key ("" for none), the fingerprint the key is
/// bound to, and the email stored with the key.
struct keyed_request {
  std::string key;
  std::string fingerprint;
  std::string user_email;
};

/// Runs the commands of the requests at positions `which` of the batch (ascending), all
/// in one go; answers one reply for each, in that order.
using batch_command = std::function<std::vector<command_reply>(
  store_session&, const std::vector<std::size_t>& which)>;

/// run_idempotent() for every request of `batch`, in one transaction; answers in the
/// batch's order. When the batch fails (a store error, a deadlock with another batch, a
/// command answering 5xx), it is rolled back and each request runs on its own, so that a
/// failure fails only its own request: that request's answer is then an error
/// (ec::internal, "storage operation <operation> failed", as a failed task's), or its own
/// 5xx reply. A lost database throws storage_unavailable.
std::vector<caf::expected<command_reply>>
run_idempotent_batch(store_session& session, const idempotency_policy& policy,
                     const char* operation, const std::vector<keyed_request>& batch,
                     const batch_command& cmd);

} // namespace fw::user_manager
