#include "actors/user_manager/idempotent_command.hpp"

#include "actors/common/log.hpp"
#include "actors/common/text.hpp"
#include "messages/errors.hpp"
#include "messages/json.hpp"

#include <stdexcept>

namespace fw::user_manager {

std::string request_fingerprint(std::string_view operation, std::string_view canonical_input) {
  return sha256_hex({operation, "\n", canonical_input});
}

std::string new_claim_token() {
  return random_hex_id();
}

namespace {

struct attempt_result {
  std::vector<command_reply> replies; // in the batch's order
  bool rolled_back = false;           // a command answered 5xx: nothing was committed
};

/// The whole batch in one transaction: claim every key, run the commands of the claimed
/// requests (and of those without a key), store their answers, commit. A request whose key
/// is taken gets its 422, 409 or replay and does not run. Throws when a store call fails.
attempt_result attempt(store_session& session, const idempotency_policy& policy,
                       const std::vector<keyed_request>& batch, const batch_command& cmd) {
  attempt_result out;
  out.replies.resize(batch.size());
  std::vector<idempotency_store::claim_request> claims;
  std::vector<std::size_t> claimant; // the request of each claim
  const auto now = unix_ms();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].key.empty())
      continue;
    idempotency_store::claim_request req;
    req.key = batch[i].key;
    req.fingerprint = batch[i].fingerprint;
    req.token = new_claim_token();
    req.user_email = batch[i].user_email;
    req.now_ms = now;
    req.expired_before_ms = now - policy.ttl.count();
    req.stale_before_ms = now - policy.in_progress_timeout.count();
    claims.push_back(std::move(req));
    claimant.push_back(i);
  }
  if (claims.empty()) { // nothing to claim: the commands alone, as they are
    std::vector<std::size_t> all(batch.size());
    for (std::size_t i = 0; i < all.size(); ++i)
      all[i] = i;
    out.replies = cmd(session, all);
    return out;
  }
  auto& keys = session.idempotency();
  // Claims, commands and answers commit together: one commit per batch, and a batch that
  // fails (5xx, exception, lost database, crash) leaves neither its keys nor any change
  // behind, so a retry with a key runs again.
  session.transaction([&] {
    auto outcomes = keys.claim_many(claims);
    using outcome = idempotency_store::claim_result::outcome;
    std::vector<bool> runs(batch.size(), true);
    std::vector<const idempotency_store::claim_request*> claim_of(batch.size(), nullptr);
    for (std::size_t c = 0; c < claims.size(); ++c) {
      const auto i = claimant[c];
      claim_of[i] = &claims[c];
      auto& claim = outcomes[c];
      runs[i] = claim.result == outcome::claimed;
      switch (claim.result) {
      case outcome::mismatch:
        out.replies[i] = {422,
                          error_body("unprocessable", "this Idempotency-Key was already used "
                                                      "for a different request"),
                          false};
        break;
      case outcome::in_progress:
        out.replies[i] = {409,
                          error_body("conflict",
                                     "a request with this Idempotency-Key is still in progress"),
                          false};
        break;
      case outcome::completed:
        out.replies[i] = {claim.status, std::move(claim.body), true};
        break;
      case outcome::claimed:
        break;
      }
    }
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (runs[i])
        which.push_back(i);
    if (which.empty())
      return false; // every key was taken: nothing to store
    auto replies = cmd(session, which);
    if (replies.size() != which.size())
      throw std::logic_error("a batch command answered the wrong number of replies");
    std::vector<idempotency_store::completion> done;
    for (std::size_t k = 0; k < which.size(); ++k) {
      const auto i = which[k];
      out.replies[i] = std::move(replies[k]);
      if (out.replies[i].status >= 500) {
        out.rolled_back = true;
        return false;
      }
      if (const auto* claim = claim_of[i])
        done.push_back({claim->key, claim->token, out.replies[i].status, out.replies[i].body});
    }
    if (keys.complete_many(done) != done.size())
      throw std::runtime_error("idempotency key claimed in this transaction was lost");
    return true;
  });
  return out;
}

} // namespace

command_reply run_idempotent(store_session& session, const idempotency_policy& policy,
                             const std::string& key, const std::string& fingerprint,
                             const std::string& user_email, const command& cmd) {
  auto one = [&cmd](store_session& s, const std::vector<std::size_t>&) {
    return std::vector<command_reply>{cmd(s)};
  };
  return std::move(
    attempt(session, policy, {keyed_request{key, fingerprint, user_email}}, one).replies[0]);
}

std::vector<caf::expected<command_reply>>
run_idempotent_batch(store_session& session, const idempotency_policy& policy,
                     const char* operation, const std::vector<keyed_request>& batch,
                     const batch_command& cmd) {
  std::vector<caf::expected<command_reply>> out;
  out.reserve(batch.size());
  if (batch.size() > 1) {
    try {
      auto together = attempt(session, policy, batch, cmd);
      if (!together.rolled_back) {
        for (auto& reply : together.replies)
          out.emplace_back(std::move(reply));
        return out;
      }
    } catch (const storage_unavailable&) {
      throw;
    } catch (const std::exception& e) {
      log::warn("storage", operation, " failed for a batch of ", batch.size(),
                " requests, running them one by one: ", e.what());
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto alone = [&cmd, i](store_session& s, const std::vector<std::size_t>&) {
      return cmd(s, {i});
    };
    try {
      out.emplace_back(std::move(attempt(session, policy, {batch[i]}, alone).replies[0]));
    } catch (const storage_unavailable&) {
      throw;
    } catch (const std::exception& e) {
      log::error("storage", operation, " failed: ", e.what());
      out.emplace_back(make_error(ec::internal, std::string{"storage operation "} + operation
                                                  + " failed"));
    }
  }
  return out;
}

} // namespace fw::user_manager
