// The batch calls of the store interfaces, one call at a time: what every backend
// without a faster way does (SQLite, in process, has no round trips to save).

#include "persistence/stores.hpp"

namespace fw {

std::vector<user_store::write_result> user_store::create_many(const std::vector<user>& users) {
  std::vector<write_result> out;
  out.reserve(users.size());
  for (const auto& u : users)
    out.push_back(create(u));
  return out;
}

std::vector<bool> user_store::create_many_with_keys(const std::vector<keyed_user>& users,
                                                   std::uint16_t, const std::string&,
                                                   std::int64_t) {
  return std::vector<bool>(users.size(), false);
}

std::vector<std::optional<user>> user_store::find_many(const std::vector<std::string>& emails) {
  std::vector<std::optional<user>> out;
  out.reserve(emails.size());
  for (const auto& email : emails)
    out.push_back(find(email));
  return out;
}

std::vector<idempotency_store::claim_result>
idempotency_store::claim_many(const std::vector<claim_request>& reqs) {
  std::vector<claim_result> out;
  out.reserve(reqs.size());
  for (const auto& req : reqs)
    out.push_back(claim(req));
  return out;
}

std::size_t idempotency_store::complete_many(const std::vector<completion>& done) {
  std::size_t completed = 0;
  for (const auto& d : done)
    completed += complete(d.key, d.token, d.status, d.body) ? 1 : 0;
  return completed;
}

} // namespace fw
