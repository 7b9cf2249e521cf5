#include "actors/user_manager/idempotent_command.hpp"

#include "actors/common/text.hpp"
#include "messages/json.hpp"

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace fw::user_manager {

namespace {

std::int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace

std::string request_fingerprint(std::string_view operation, std::string_view canonical_input) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned size = 0;
  auto* ctx = EVP_MD_CTX_new();
  const bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1
                  && EVP_DigestUpdate(ctx, operation.data(), operation.size()) == 1
                  && EVP_DigestUpdate(ctx, "\n", 1) == 1
                  && EVP_DigestUpdate(ctx, canonical_input.data(), canonical_input.size()) == 1
                  && EVP_DigestFinal_ex(ctx, digest.data(), &size) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok)
    throw std::runtime_error("SHA-256 failed");
  return to_hex(digest.data(), size);
}

std::string new_claim_token() {
  return random_hex_id();
}

command_reply run_idempotent(store_session& session, const idempotency_policy& policy,
                             const std::string& key, const std::string& fingerprint,
                             const std::string& user_email, const command& cmd) {
  if (key.empty())
    return cmd(session);
  auto& keys = session.idempotency();
  idempotency_store::claim_request req;
  req.key = key;
  req.fingerprint = fingerprint;
  req.token = new_claim_token();
  req.user_email = user_email;
  req.now_ms = unix_ms();
  req.expired_before_ms = req.now_ms - policy.ttl.count();
  req.stale_before_ms = req.now_ms - policy.in_progress_timeout.count();
  // Claim, command and answer commit together: one commit per request, and a request
  // that fails (5xx, exception, lost database, crash) leaves neither the key nor any change
  // behind, so a retry with the key runs again.
  command_reply reply;
  session.transaction([&] {
    auto claim = keys.claim(req);
    using outcome = idempotency_store::claim_result::outcome;
    switch (claim.result) {
    case outcome::mismatch:
      reply = {422,
               error_body("unprocessable",
                          "this Idempotency-Key was already used for a different request"),
               false};
      return false;
    case outcome::in_progress:
      reply = {409,
               error_body("conflict", "a request with this Idempotency-Key is still in progress"),
               false};
      return false;
    case outcome::completed:
      reply = {claim.status, std::move(claim.body), true};
      return false;
    case outcome::claimed:
      break;
    }
    reply = cmd(session);
    if (reply.status >= 500)
      return false;
    if (!keys.complete(key, req.token, reply.status, reply.body))
      throw std::runtime_error("idempotency key claimed in this transaction was lost");
    return true;
  });
  return reply;
}

} // namespace fw::user_manager
