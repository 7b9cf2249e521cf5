#include "persistence/migrations.hpp"

namespace fw {

namespace {

// Version 1: the user-manager's tables (seed schema, telegram_chat_id as a 64-bit integer
// because Telegram ids exceed 32 bits; idempotency keys bound to a request fingerprint and
// a claim token).
constexpr std::string_view v1_users = R"sql(
CREATE TABLE users (
  email            TEXT PRIMARY KEY,
  first_name       TEXT NOT NULL,
  last_name        TEXT NOT NULL,
  tax_code         TEXT UNIQUE,
  iban             TEXT,
  telegram_chat_id BIGINT UNIQUE,
  created_at_ms    BIGINT NOT NULL
);
CREATE TABLE idempotency_keys (
  key              TEXT PRIMARY KEY,
  fingerprint      TEXT NOT NULL,
  status           TEXT NOT NULL,
  claim_token      TEXT NOT NULL,
  user_email       TEXT NOT NULL,
  created_at_ms    BIGINT NOT NULL,
  response_code    INTEGER,
  response_body    TEXT
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at_ms)
)sql";

} // namespace

const std::vector<migration>& migrations() {
  static const std::vector<migration> all{
    {1, "users and idempotency keys", v1_users, v1_users},
  };
  return all;
}

int latest_schema_version() {
  return migrations().back().version;
}

std::vector<std::string_view> split_statements(std::string_view sql) {
  std::vector<std::string_view> out;
  while (!sql.empty()) {
    auto end = sql.find(';');
    auto stmt = sql.substr(0, end);
    auto first = stmt.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos)
      out.push_back(stmt.substr(first));
    if (end == std::string_view::npos)
      break;
    sql.remove_prefix(end + 1);
  }
  return out;
}

} // namespace fw
