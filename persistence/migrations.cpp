#include "persistence/migrations.hpp"

#include "persistence/flight_counts.hpp"

#include <string>

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

// Version 2: the data-collector's tables. Airports are "" when unknown (not NULL) so the
// deduplication key covers them; the two indexes serve "flights at an airport by time".
// The backends differ only in the type of the surrogate key.
std::string v2_collector(std::string_view id_type) {
  std::string sql = R"sql(
CREATE TABLE user_interests (
  user_email       TEXT NOT NULL,
  airport_code     TEXT NOT NULL,
  high_value       BIGINT,
  low_value        BIGINT,
  created_at_ms    BIGINT NOT NULL,
  PRIMARY KEY (user_email, airport_code)
);
CREATE INDEX user_interests_airport ON user_interests (airport_code);
CREATE TABLE flight_data (
  id                                   )sql";
  sql += id_type;
  sql += R"sql( PRIMARY KEY,
  icao24                               TEXT NOT NULL,
  first_seen                           BIGINT NOT NULL,
  est_departure_airport                TEXT NOT NULL,
  last_seen                            BIGINT NOT NULL,
  est_arrival_airport                  TEXT NOT NULL,
  callsign                             TEXT NOT NULL,
  est_departure_airport_horiz_distance BIGINT,
  est_departure_airport_vert_distance  BIGINT,
  est_arrival_airport_horiz_distance   BIGINT,
  est_arrival_airport_vert_distance    BIGINT,
  departure_airport_candidates_count   BIGINT,
  arrival_airport_candidates_count     BIGINT
);
CREATE UNIQUE INDEX flight_data_identity
  ON flight_data (icao24, first_seen, est_departure_airport, est_arrival_airport);
CREATE INDEX flight_data_arrivals ON flight_data (est_arrival_airport, last_seen);
CREATE INDEX flight_data_departures
  ON flight_data (est_departure_airport, first_seen, est_arrival_airport)
)sql";
  return sql;
}

// Version 3: the alert pipeline. Inactive chats (the bot was blocked) are kept but not
// used; processed events remember what they produced (an outbox for redeliveries).
constexpr std::string_view v3_alerts = R"sql(
ALTER TABLE users ADD COLUMN telegram_inactive INTEGER NOT NULL DEFAULT 0;
CREATE TABLE alert_states (
  user_email       TEXT NOT NULL,
  airport_code     TEXT NOT NULL,
  condition        TEXT NOT NULL,
  threshold        BIGINT NOT NULL,
  flight_count     BIGINT NOT NULL,
  since_ms         BIGINT NOT NULL,
  last_notified_ms BIGINT NOT NULL,
  PRIMARY KEY (user_email, airport_code)
);
CREATE TABLE processed_events (
  event_id         TEXT PRIMARY KEY,
  output           TEXT NOT NULL,
  processed_at_ms  BIGINT NOT NULL
);
CREATE INDEX processed_events_time ON processed_events (processed_at_ms);
CREATE TABLE notifications (
  event_id         TEXT PRIMARY KEY,
  user_email       TEXT NOT NULL,
  airport_code     TEXT NOT NULL,
  kind             TEXT NOT NULL,
  channel          TEXT NOT NULL,
  text             TEXT NOT NULL,
  status           TEXT NOT NULL,
  error            TEXT NOT NULL,
  attempts         BIGINT NOT NULL,
  created_at_ms    BIGINT NOT NULL,
  updated_at_ms    BIGINT NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_email, created_at_ms);
CREATE TABLE telegram_link_tokens (
  token            TEXT PRIMARY KEY,
  user_email       TEXT NOT NULL,
  created_at_ms    BIGINT NOT NULL,
  used             INTEGER NOT NULL DEFAULT 0
)
)sql";

// Version 4: per-hour flight counters (persistence/flight_counts.hpp), filled from the
// flights already stored.
std::string v4_hourly_counts() {
  return R"sql(
CREATE TABLE flight_hourly_counts (
  airport              TEXT NOT NULL,
  hour                 BIGINT NOT NULL,
  arrivals             BIGINT NOT NULL,
  departures           BIGINT NOT NULL,
  departures_elsewhere BIGINT NOT NULL,
  PRIMARY KEY (airport, hour)
);
)sql" + backfill_hourly_counts_sql();
}

} // namespace

const std::vector<migration>& migrations() {
  static const std::string v2_sqlite = v2_collector("INTEGER");
  static const std::string v2_postgres = v2_collector("BIGSERIAL");
  static const std::string v4 = v4_hourly_counts();
  static const std::vector<migration> all{
    {1, "users and idempotency keys", v1_users, v1_users},
    {2, "interests and flights", v2_sqlite, v2_postgres},
    {3, "alert states, processed events, notifications, Telegram link tokens", v3_alerts,
     v3_alerts},
    {4, "per-hour flight counters", v4, v4},
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
