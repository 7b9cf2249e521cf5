#include "persistence/sqlite/sqlite_session.hpp"

#include "messages/unix_time.hpp"
#include "persistence/flight_counts.hpp"
#include "persistence/migrations.hpp"
#include "persistence/sqlite/sqlite_db.hpp"

#include <limits>
#include <optional>
#include <string_view>
#include <utility>

namespace fw {

namespace {

// -- users ----------------------------------------------------------------------------

constexpr std::string_view user_insert_sql = R"sql(
INSERT INTO users (email, first_name, last_name, tax_code, iban, created_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
)sql";

constexpr std::string_view user_exists_sql = "SELECT 1 FROM users WHERE email = ?1";

// An inactive chat (the bot was blocked) stays stored, and so keeps its uniqueness, but
// is reported as no chat.
constexpr std::string_view user_find_sql = R"sql(
SELECT email, first_name, last_name, tax_code, iban,
  CASE WHEN telegram_inactive = 0 THEN telegram_chat_id END
FROM users WHERE email = ?1
)sql";

constexpr std::string_view user_list_sql = R"sql(
SELECT email, first_name, last_name, tax_code, iban,
  CASE WHEN telegram_inactive = 0 THEN telegram_chat_id END
FROM users ORDER BY email
)sql";

constexpr std::string_view user_delete_sql = "DELETE FROM users WHERE email = ?1";

// Linking (again) makes the chat active.
constexpr std::string_view user_set_chat_id_sql =
    "UPDATE users SET telegram_chat_id = ?2, telegram_inactive = 0 WHERE email = ?1";

constexpr std::string_view user_mark_chat_inactive_sql =
    "UPDATE users SET telegram_inactive = 1 WHERE telegram_chat_id = ?1";

class sqlite_user_store final : public user_store {
public:
  explicit sqlite_user_store(sqlite::database& db)
    : db_(db), insert_(db, user_insert_sql), exists_(db, user_exists_sql), find_(db, user_find_sql),
      list_(db, user_list_sql), delete_(db, user_delete_sql),
      set_chat_id_(db, user_set_chat_id_sql), mark_inactive_(db, user_mark_chat_inactive_sql) {}

  write_result create(const user& u) override {
    // One write transaction, so that after a constraint failure the existence check
    // sees the same state the INSERT saw.
    sqlite::transaction tx{db_};
    try {
      auto q = insert_.use();
      q->bind(1, u.email)
          .bind(2, u.first_name)
          .bind(3, u.last_name)
          .bind_text_or_null(4, u.tax_code)
          .bind_text_or_null(5, u.iban)
          .bind(6, unix_ms());
      q->run();
    } catch (const sqlite::constraint_violation&) {
      // email is the primary key, tax_code the only other unique column written here.
      auto q = exists_.use();
      q->bind(1, u.email);
      auto result = q->step() ? write_result::email_taken : write_result::tax_code_taken;
      return result; // tx rolls back (nothing was written)
    }
    tx.commit();
    return write_result::ok;
  }

  std::optional<user> find(const std::string& email) override {
    auto q = find_.use();
    q->bind(1, email);
    if (!q->step())
      return std::nullopt;
    return read(*q);
  }

  std::vector<user> list() override {
    std::vector<user> out;
    auto q = list_.use();
    while (q->step())
      out.push_back(read(*q));
    return out;
  }

  bool remove(const std::string& email) override {
    auto q = delete_.use();
    q->bind(1, email);
    return q->run() > 0;
  }

  write_result set_telegram_chat_id(const std::string& email, std::int64_t chat_id) override {
    try {
      auto q = set_chat_id_.use();
      q->bind(1, email).bind(2, chat_id);
      // SQLite counts matched rows, so setting the same id again is 1 change.
      return q->run() > 0 ? write_result::ok : write_result::not_found;
    } catch (const sqlite::constraint_violation&) {
      return write_result::chat_id_taken; // UNIQUE (telegram_chat_id)
    }
  }

  void mark_chat_inactive(std::int64_t chat_id) override {
    auto q = mark_inactive_.use();
    q->bind(1, chat_id);
    q->run();
  }

private:
  static user read(const sqlite::statement& q) {
    user u;
    u.email = q.column_text(0);
    u.first_name = q.column_text(1);
    u.last_name = q.column_text(2);
    u.tax_code = q.column_text(3); // NULL reads as ""
    u.iban = q.column_text(4);
    if (auto id = q.column_nullable_int64(5))
      u.telegram_chat_id = *id;
    return u;
  }

  sqlite::database& db_;
  sqlite::statement insert_;
  sqlite::statement exists_;
  sqlite::statement find_;
  sqlite::statement list_;
  sqlite::statement delete_;
  sqlite::statement set_chat_id_;
  sqlite::statement mark_inactive_;
};

// -- idempotency keys -----------------------------------------------------------------

constexpr std::string_view idem_insert_sql = R"sql(
INSERT INTO idempotency_keys (key, fingerprint, status, claim_token, user_email, created_at_ms)
VALUES (?1, ?2, 'in-progress', ?3, ?4, ?5)
ON CONFLICT (key) DO NOTHING
)sql";

// Takes over an expired completed key, or a stale in-progress claim of the same request.
constexpr std::string_view idem_take_over_sql = R"sql(
UPDATE idempotency_keys
SET fingerprint = ?2, status = 'in-progress', claim_token = ?3, user_email = ?4,
    created_at_ms = ?5, response_code = NULL, response_body = NULL
WHERE key = ?1
  AND ((status = 'completed' AND created_at_ms < ?6)
       OR (status = 'in-progress' AND created_at_ms < ?7 AND fingerprint = ?2))
)sql";

constexpr std::string_view idem_select_sql = R"sql(
SELECT status, fingerprint, response_code, response_body
FROM idempotency_keys WHERE key = ?1
)sql";

constexpr std::string_view idem_complete_sql = R"sql(
UPDATE idempotency_keys
SET status = 'completed', response_code = ?3, response_body = ?4
WHERE key = ?1 AND claim_token = ?2 AND status = 'in-progress'
)sql";

constexpr std::string_view idem_purge_sql = "DELETE FROM idempotency_keys WHERE created_at_ms < ?1";

class sqlite_idempotency_store final : public idempotency_store {
public:
  explicit sqlite_idempotency_store(sqlite::database& db)
    : db_(db), insert_(db, idem_insert_sql), take_over_(db, idem_take_over_sql),
      select_(db, idem_select_sql), complete_(db, idem_complete_sql), purge_(db, idem_purge_sql) {}

  claim_result claim(const claim_request& req) override {
    using outcome = claim_result::outcome;
    // Each step is atomic on its own; the write transaction additionally takes the
    // write lock once (waiting through the busy timeout) instead of once per statement.
    // The row cannot vanish between the steps inside it; the retry loop is kept for
    // robustness only.
    for (int attempt = 0; attempt < 3; ++attempt) {
      sqlite::transaction tx{db_};
      {
        auto q = insert_.use();
        q->bind(1, req.key)
            .bind(2, req.fingerprint)
            .bind(3, req.token)
            .bind(4, req.user_email)
            .bind(5, req.now_ms);
        if (q->run() == 1) {
          tx.commit();
          return {};
        }
      }
      {
        auto q = take_over_.use();
        q->bind(1, req.key)
            .bind(2, req.fingerprint)
            .bind(3, req.token)
            .bind(4, req.user_email)
            .bind(5, req.now_ms)
            .bind(6, req.expired_before_ms)
            .bind(7, req.stale_before_ms);
        if (q->run() == 1) {
          tx.commit();
          return {};
        }
      }
      claim_result out;
      {
        auto q = select_.use();
        q->bind(1, req.key);
        if (!q->step())
          continue; // released or purged meanwhile: try again
        auto status = q->column_text(0);
        if (q->column_text(1) != req.fingerprint) {
          out.result = outcome::mismatch;
        } else if (status == "completed") {
          out.result = outcome::completed;
          out.status = static_cast<std::uint16_t>(q->column_int64(2));
          out.body = q->column_text(3);
        } else {
          out.result = outcome::in_progress;
        }
      }
      tx.commit();
      return out;
    }
    throw std::runtime_error("idempotency claim: key kept disappearing, giving up");
  }

  bool complete(const std::string& key, const std::string& token, std::uint16_t status,
                const std::string& body) override {
    auto q = complete_.use();
    q->bind(1, key).bind(2, token).bind(3, std::int64_t{status}).bind(4, body);
    return q->run() == 1;
  }

  std::uint64_t purge(std::int64_t expired_before_ms) override {
    auto q = purge_.use();
    q->bind(1, expired_before_ms);
    return static_cast<std::uint64_t>(q->run());
  }

private:
  sqlite::database& db_;
  sqlite::statement insert_;
  sqlite::statement take_over_;
  sqlite::statement select_;
  sqlite::statement complete_;
  sqlite::statement purge_;
};

// -- interests ------------------------------------------------------------------------

std::optional<std::int64_t> to_std(const caf::optional<std::int64_t>& x) {
  if (x)
    return *x;
  return std::nullopt;
}

caf::optional<std::int64_t> to_caf(const std::optional<std::int64_t>& x) {
  if (x)
    return *x;
  return caf::none;
}

constexpr std::string_view interest_exists_sql =
    "SELECT 1 FROM user_interests WHERE user_email = ?1 AND airport_code = ?2";

// created_at_ms is kept when the interest exists.
constexpr std::string_view interest_upsert_sql = R"sql(
INSERT INTO user_interests (user_email, airport_code, high_value, low_value, created_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (user_email, airport_code)
DO UPDATE SET high_value = excluded.high_value, low_value = excluded.low_value
)sql";

constexpr std::string_view interest_update_sql = R"sql(
UPDATE user_interests SET high_value = ?3, low_value = ?4
WHERE user_email = ?1 AND airport_code = ?2
)sql";

constexpr std::string_view interest_delete_sql =
    "DELETE FROM user_interests WHERE user_email = ?1 AND airport_code = ?2";

constexpr std::string_view interest_for_user_sql = R"sql(
SELECT user_email, airport_code, high_value, low_value
FROM user_interests WHERE user_email = ?1 ORDER BY airport_code
)sql";

constexpr std::string_view interest_delete_user_sql =
    "DELETE FROM user_interests WHERE user_email = ?1";

constexpr std::string_view interest_for_airport_sql = R"sql(
SELECT user_email, airport_code, high_value, low_value
FROM user_interests WHERE airport_code = ?1 ORDER BY user_email
)sql";

constexpr std::string_view interest_airports_sql =
    "SELECT DISTINCT airport_code FROM user_interests ORDER BY airport_code";

class sqlite_interest_store final : public interest_store {
public:
  explicit sqlite_interest_store(sqlite::database& db)
    : db_(db), user_exists_(db, user_exists_sql), exists_(db, interest_exists_sql),
      upsert_(db, interest_upsert_sql),
      update_(db, interest_update_sql), delete_(db, interest_delete_sql),
      for_user_(db, interest_for_user_sql), delete_user_(db, interest_delete_user_sql),
      for_airport_(db, interest_for_airport_sql), airports_(db, interest_airports_sql) {}

  upsert_outcome upsert(const interest& i) override {
    // The checks and the upsert in one write transaction: nobody can insert or delete the
    // user or the row in between.
    sqlite::transaction tx{db_};
    {
      auto q = user_exists_.use();
      q->bind(1, i.user_email);
      if (!q->step())
        return upsert_outcome::no_user; // the transaction rolls back: nothing was written
    }
    bool existed = false;
    {
      auto q = exists_.use();
      q->bind(1, i.user_email).bind(2, i.airport_code);
      existed = q->step();
    }
    {
      auto q = upsert_.use();
      q->bind(1, i.user_email)
          .bind(2, i.airport_code)
          .bind(3, to_std(i.high_value))
          .bind(4, to_std(i.low_value))
          .bind(5, unix_ms());
      q->run();
    }
    tx.commit();
    return existed ? upsert_outcome::updated : upsert_outcome::inserted;
  }

  bool update_thresholds(const interest& i) override {
    auto q = update_.use();
    q->bind(1, i.user_email)
        .bind(2, i.airport_code)
        .bind(3, to_std(i.high_value))
        .bind(4, to_std(i.low_value));
    return q->run() > 0; // SQLite counts matched rows, also when nothing changed
  }

  bool remove(const std::string& user_email, const std::string& airport_code) override {
    auto q = delete_.use();
    q->bind(1, user_email).bind(2, airport_code);
    return q->run() > 0;
  }

  std::vector<interest> for_user(const std::string& user_email) override {
    auto q = for_user_.use();
    q->bind(1, user_email);
    return read_all(*q);
  }

  std::uint64_t remove_all_of_user(const std::string& user_email) override {
    auto q = delete_user_.use();
    q->bind(1, user_email);
    return static_cast<std::uint64_t>(q->run());
  }

  std::vector<interest> for_airport(const std::string& airport_code) override {
    auto q = for_airport_.use();
    q->bind(1, airport_code);
    return read_all(*q);
  }

  std::vector<std::string> airports() override {
    std::vector<std::string> out;
    auto q = airports_.use();
    while (q->step())
      out.push_back(q->column_text(0));
    return out;
  }

private:
  static std::vector<interest> read_all(sqlite::statement& q) {
    std::vector<interest> out;
    while (q.step()) {
      interest i;
      i.user_email = q.column_text(0);
      i.airport_code = q.column_text(1);
      i.high_value = to_caf(q.column_nullable_int64(2));
      i.low_value = to_caf(q.column_nullable_int64(3));
      out.push_back(std::move(i));
    }
    return out;
  }

  sqlite::database& db_;
  sqlite::statement user_exists_;
  sqlite::statement exists_;
  sqlite::statement upsert_;
  sqlite::statement update_;
  sqlite::statement delete_;
  sqlite::statement for_user_;
  sqlite::statement delete_user_;
  sqlite::statement for_airport_;
  sqlite::statement airports_;
};

// -- flights --------------------------------------------------------------------------

// Deduplicated on the unique index flight_data_identity.
constexpr std::string_view flight_insert_sql = R"sql(
INSERT INTO flight_data (icao24, first_seen, est_departure_airport, last_seen,
  est_arrival_airport, callsign, est_departure_airport_horiz_distance,
  est_departure_airport_vert_distance, est_arrival_airport_horiz_distance,
  est_arrival_airport_vert_distance, departure_airport_candidates_count,
  arrival_airport_candidates_count)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT DO NOTHING
)sql";

// The time bounds are always bound (the int64 extremes when absent), so every query is a
// range scan of its index: flight_data_arrivals (est_arrival_airport, last_seen) or
// flight_data_departures (est_departure_airport, first_seen, est_arrival_airport).
// Arrival index entries end with the rowid (id), so their tie-break needs no sort; the
// departures index has est_arrival_airport before it, so ties there get a small
// incremental sort.
constexpr std::string_view flight_list_arrivals_sql = R"sql(
SELECT icao24, first_seen, est_departure_airport, last_seen, est_arrival_airport, callsign,
  est_departure_airport_horiz_distance, est_departure_airport_vert_distance,
  est_arrival_airport_horiz_distance, est_arrival_airport_vert_distance,
  departure_airport_candidates_count, arrival_airport_candidates_count
FROM flight_data
WHERE est_arrival_airport = ?1 AND last_seen BETWEEN ?2 AND ?3
ORDER BY last_seen DESC, id DESC LIMIT ?4
)sql";

constexpr std::string_view flight_list_departures_sql = R"sql(
SELECT icao24, first_seen, est_departure_airport, last_seen, est_arrival_airport, callsign,
  est_departure_airport_horiz_distance, est_departure_airport_vert_distance,
  est_arrival_airport_horiz_distance, est_arrival_airport_vert_distance,
  departure_airport_candidates_count, arrival_airport_candidates_count
FROM flight_data
WHERE est_departure_airport = ?1 AND first_seen BETWEEN ?2 AND ?3
ORDER BY first_seen DESC, id DESC LIMIT ?4
)sql";

// Both: the arrivals, plus the departures that do not also arrive there (those are timed
// by their arrival and already in the first half), merged by time: each half is an
// ordered range scan of its index.
constexpr std::string_view flight_list_both_sql = R"sql(
SELECT icao24, first_seen, est_departure_airport, last_seen, est_arrival_airport, callsign,
  est_departure_airport_horiz_distance, est_departure_airport_vert_distance,
  est_arrival_airport_horiz_distance, est_arrival_airport_vert_distance,
  departure_airport_candidates_count, arrival_airport_candidates_count,
  last_seen AS t, id
FROM flight_data
WHERE est_arrival_airport = ?1 AND last_seen BETWEEN ?2 AND ?3
UNION ALL
SELECT icao24, first_seen, est_departure_airport, last_seen, est_arrival_airport, callsign,
  est_departure_airport_horiz_distance, est_departure_airport_vert_distance,
  est_arrival_airport_horiz_distance, est_arrival_airport_vert_distance,
  departure_airport_candidates_count, arrival_airport_candidates_count,
  first_seen AS t, id
FROM flight_data
WHERE est_departure_airport = ?1 AND est_arrival_airport <> ?1
  AND first_seen BETWEEN ?2 AND ?3
ORDER BY t DESC, id DESC LIMIT ?4
)sql";

// Counts over [?2, ?3] as plan_count splits them: the counters of hours [?6, ?7] plus the
// flights timed in [?2, ?4] and in [?5, ?3], each a range scan of the time index.
constexpr std::string_view flight_count_arrivals_sql = R"sql(
SELECT (SELECT count(*) FROM flight_data
        WHERE est_arrival_airport = ?1 AND last_seen BETWEEN ?2 AND ?4)
     + (SELECT count(*) FROM flight_data
        WHERE est_arrival_airport = ?1 AND last_seen BETWEEN ?5 AND ?3)
     + (SELECT COALESCE(sum(arrivals), 0) FROM flight_hourly_counts
        WHERE airport = ?1 AND hour BETWEEN ?6 AND ?7)
)sql";

constexpr std::string_view flight_count_departures_sql = R"sql(
SELECT (SELECT count(*) FROM flight_data
        WHERE est_departure_airport = ?1 AND first_seen BETWEEN ?2 AND ?4)
     + (SELECT count(*) FROM flight_data
        WHERE est_departure_airport = ?1 AND first_seen BETWEEN ?5 AND ?3)
     + (SELECT COALESCE(sum(departures), 0) FROM flight_hourly_counts
        WHERE airport = ?1 AND hour BETWEEN ?6 AND ?7)
)sql";

constexpr std::string_view flight_count_both_sql = R"sql(
SELECT (SELECT count(*) FROM flight_data
        WHERE est_arrival_airport = ?1 AND last_seen BETWEEN ?2 AND ?4)
     + (SELECT count(*) FROM flight_data
        WHERE est_arrival_airport = ?1 AND last_seen BETWEEN ?5 AND ?3)
     + (SELECT count(*) FROM flight_data
        WHERE est_departure_airport = ?1 AND est_arrival_airport <> ?1
          AND first_seen BETWEEN ?2 AND ?4)
     + (SELECT count(*) FROM flight_data
        WHERE est_departure_airport = ?1 AND est_arrival_airport <> ?1
          AND first_seen BETWEEN ?5 AND ?3)
     + (SELECT COALESCE(sum(arrivals + departures_elsewhere), 0) FROM flight_hourly_counts
        WHERE airport = ?1 AND hour BETWEEN ?6 AND ?7)
)sql";

// The per-hour counters of the flights just stored (one row per key, in key order).
constexpr std::string_view flight_count_add_sql = R"sql(
INSERT INTO flight_hourly_counts (airport, hour, arrivals, departures, departures_elsewhere)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (airport, hour) DO UPDATE SET arrivals = arrivals + excluded.arrivals,
  departures = departures + excluded.departures,
  departures_elsewhere = departures_elsewhere + excluded.departures_elsewhere
)sql";

class sqlite_flight_store final : public flight_store {
public:
  explicit sqlite_flight_store(sqlite::database& db)
    : db_(db), insert_(db, flight_insert_sql), list_arrivals_(db, flight_list_arrivals_sql),
      list_departures_(db, flight_list_departures_sql), list_both_(db, flight_list_both_sql),
      count_arrivals_(db, flight_count_arrivals_sql),
      count_departures_(db, flight_count_departures_sql),
      count_both_(db, flight_count_both_sql), count_add_(db, flight_count_add_sql) {}

  std::uint64_t insert(const std::vector<flight>& flights) override {
    if (flights.empty())
      return 0;
    sqlite::transaction tx{db_};
    std::vector<const flight*> added;
    for (const auto& f : flights) {
      auto q = insert_.use();
      q->bind(1, f.icao24)
          .bind(2, f.first_seen)
          .bind(3, f.est_departure_airport)
          .bind(4, f.last_seen)
          .bind(5, f.est_arrival_airport)
          .bind(6, f.callsign)
          .bind(7, to_std(f.est_departure_airport_horiz_distance))
          .bind(8, to_std(f.est_departure_airport_vert_distance))
          .bind(9, to_std(f.est_arrival_airport_horiz_distance))
          .bind(10, to_std(f.est_arrival_airport_vert_distance))
          .bind(11, to_std(f.departure_airport_candidates_count))
          .bind(12, to_std(f.arrival_airport_candidates_count));
      if (q->run() > 0)
        added.push_back(&f);
    }
    for (const auto& d : hourly_deltas(added)) {
      auto q = count_add_.use();
      q->bind(1, d.airport)
          .bind(2, d.hour)
          .bind(3, d.arrivals)
          .bind(4, d.departures)
          .bind(5, d.departures_elsewhere);
      q->run();
    }
    tx.commit();
    return added.size();
  }

  std::vector<flight> list(const flight_query& q) override {
    std::vector<flight> out;
    if (q.limit <= 0)
      return out;
    auto s = list_statement(parse_flight_type(q.type)).use();
    s->bind(1, q.airport_code)
        .bind(2, q.since ? *q.since : no_lower_bound)
        .bind(3, q.until ? *q.until : no_upper_bound)
        .bind(4, q.limit);
    while (s->step())
      out.push_back(read(*s));
    return out;
  }

  std::int64_t count(const std::string& airport_code, const std::string& type,
                     std::int64_t from, std::int64_t to) override {
    auto s = count_statement(parse_flight_type(type)).use();
    const auto plan = plan_count(airport_code, from, to);
    s->bind(1, airport_code)
        .bind(2, from)
        .bind(3, to)
        .bind(4, plan.head_end)
        .bind(5, plan.tail_begin)
        .bind(6, plan.first_hour)
        .bind(7, plan.last_hour);
    s->step();
    return s->column_int64(0);
  }

  std::optional<flight> last(const std::string& airport_code, const std::string& type) override {
    flight_query q;
    q.airport_code = airport_code;
    q.type = type;
    q.limit = 1;
    auto found = list(q);
    if (found.empty())
      return std::nullopt;
    return std::move(found.front());
  }

private:
  sqlite::statement& list_statement(flight_direction t) {
    switch (t) {
    case flight_direction::arrivals:
      return list_arrivals_;
    case flight_direction::departures:
      return list_departures_;
    case flight_direction::both:
      break;
    }
    return list_both_;
  }

  sqlite::statement& count_statement(flight_direction t) {
    switch (t) {
    case flight_direction::arrivals:
      return count_arrivals_;
    case flight_direction::departures:
      return count_departures_;
    case flight_direction::both:
      break;
    }
    return count_both_;
  }

  static flight read(const sqlite::statement& q) {
    flight f;
    f.icao24 = q.column_text(0);
    f.first_seen = q.column_int64(1);
    f.est_departure_airport = q.column_text(2);
    f.last_seen = q.column_int64(3);
    f.est_arrival_airport = q.column_text(4);
    f.callsign = q.column_text(5);
    f.est_departure_airport_horiz_distance = to_caf(q.column_nullable_int64(6));
    f.est_departure_airport_vert_distance = to_caf(q.column_nullable_int64(7));
    f.est_arrival_airport_horiz_distance = to_caf(q.column_nullable_int64(8));
    f.est_arrival_airport_vert_distance = to_caf(q.column_nullable_int64(9));
    f.departure_airport_candidates_count = to_caf(q.column_nullable_int64(10));
    f.arrival_airport_candidates_count = to_caf(q.column_nullable_int64(11));
    return f;
  }

  sqlite::database& db_;
  sqlite::statement insert_;
  sqlite::statement list_arrivals_;
  sqlite::statement list_departures_;
  sqlite::statement list_both_;
  sqlite::statement count_arrivals_;
  sqlite::statement count_departures_;
  sqlite::statement count_both_;
  sqlite::statement count_add_;
};

// -- alert states and processed events ------------------------------------------------

constexpr std::string_view alert_find_sql = R"sql(
SELECT user_email, airport_code, condition, threshold, flight_count, since_ms,
  last_notified_ms
FROM alert_states WHERE user_email = ?1 AND airport_code = ?2
)sql";

constexpr std::string_view alert_processed_sql =
    "SELECT output FROM processed_events WHERE event_id = ?1";

// Nothing inserted (0 changes) means the event was processed before.
constexpr std::string_view alert_mark_processed_sql = R"sql(
INSERT INTO processed_events (event_id, output, processed_at_ms)
VALUES (?1, ?2, ?3)
ON CONFLICT (event_id) DO NOTHING
)sql";

constexpr std::string_view alert_upsert_sql = R"sql(
INSERT INTO alert_states (user_email, airport_code, condition, threshold, flight_count,
  since_ms, last_notified_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (user_email, airport_code)
DO UPDATE SET condition = excluded.condition, threshold = excluded.threshold,
  flight_count = excluded.flight_count, since_ms = excluded.since_ms,
  last_notified_ms = excluded.last_notified_ms
)sql";

constexpr std::string_view alert_delete_sql =
    "DELETE FROM alert_states WHERE user_email = ?1 AND airport_code = ?2";

constexpr std::string_view alert_purge_sql =
    "DELETE FROM processed_events WHERE processed_at_ms < ?1";

class sqlite_alert_store final : public alert_store {
public:
  explicit sqlite_alert_store(sqlite::database& db)
    : db_(db), find_(db, alert_find_sql), processed_(db, alert_processed_sql),
      mark_processed_(db, alert_mark_processed_sql), upsert_(db, alert_upsert_sql),
      delete_(db, alert_delete_sql), purge_(db, alert_purge_sql) {}

  std::optional<state> find(const std::string& user_email,
                            const std::string& airport_code) override {
    auto q = find_.use();
    q->bind(1, user_email).bind(2, airport_code);
    if (!q->step())
      return std::nullopt;
    state st;
    st.user_email = q->column_text(0);
    st.airport_code = q->column_text(1);
    st.condition = q->column_text(2);
    st.threshold = q->column_int64(3);
    st.flight_count = q->column_int64(4);
    st.since_ms = q->column_int64(5);
    st.last_notified_ms = q->column_int64(6);
    return st;
  }

  std::optional<std::string> processed(const std::string& event_id) override {
    auto q = processed_.use();
    q->bind(1, event_id);
    if (!q->step())
      return std::nullopt;
    return q->column_text(0);
  }

  bool record(const std::string& event_id, const std::string& user_email,
              const std::string& airport_code, const std::optional<state>& next,
              const std::string& output, std::int64_t now_ms) override {
    // One write transaction: the event is marked processed together with the state it
    // produced, or (processed before) nothing changes.
    sqlite::transaction tx{db_};
    {
      auto q = mark_processed_.use();
      q->bind(1, event_id).bind(2, output).bind(3, now_ms);
      if (q->run() == 0)
        return false; // tx rolls back (nothing was written)
    }
    if (next) {
      auto q = upsert_.use();
      q->bind(1, user_email)
          .bind(2, airport_code)
          .bind(3, next->condition)
          .bind(4, next->threshold)
          .bind(5, next->flight_count)
          .bind(6, next->since_ms)
          .bind(7, next->last_notified_ms);
      q->run();
    } else {
      auto q = delete_.use();
      q->bind(1, user_email).bind(2, airport_code);
      q->run();
    }
    tx.commit();
    return true;
  }

  std::uint64_t purge_processed(std::int64_t before_ms) override {
    auto q = purge_.use();
    q->bind(1, before_ms);
    return static_cast<std::uint64_t>(q->run());
  }

private:
  sqlite::database& db_;
  sqlite::statement find_;
  sqlite::statement processed_;
  sqlite::statement mark_processed_;
  sqlite::statement upsert_;
  sqlite::statement delete_;
  sqlite::statement purge_;
};

// -- notifications --------------------------------------------------------------------

constexpr std::string_view notification_insert_sql = R"sql(
INSERT INTO notifications (event_id, user_email, airport_code, kind, channel, text, status,
  error, attempts, created_at_ms, updated_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
ON CONFLICT (event_id) DO NOTHING
)sql";

constexpr std::string_view notification_find_sql = R"sql(
SELECT event_id, user_email, airport_code, kind, channel, text, status, error, attempts,
  created_at_ms, updated_at_ms
FROM notifications WHERE event_id = ?1
)sql";

constexpr std::string_view notification_update_sql = R"sql(
UPDATE notifications SET status = ?2, attempts = ?3, error = ?4, updated_at_ms = ?5
WHERE event_id = ?1
)sql";

// Newest first; ties (same millisecond) by event id.
constexpr std::string_view notification_for_user_sql = R"sql(
SELECT event_id, user_email, airport_code, kind, channel, text, status, error, attempts,
  created_at_ms, updated_at_ms
FROM notifications WHERE user_email = ?1
ORDER BY created_at_ms DESC, event_id LIMIT ?2
)sql";

/// What open() stores for `n`: status "pending" unless given, updated_at_ms the creation
/// time unless given.
notification_store::record opened(const notification_store::record& n) {
  auto out = n;
  if (out.status.empty())
    out.status = "pending";
  if (out.updated_at_ms == 0)
    out.updated_at_ms = out.created_at_ms;
  return out;
}

class sqlite_notification_store final : public notification_store {
public:
  explicit sqlite_notification_store(sqlite::database& db)
    : db_(db), insert_(db, notification_insert_sql), find_(db, notification_find_sql),
      update_(db, notification_update_sql), for_user_(db, notification_for_user_sql) {}

  std::optional<record> open(const record& n) override {
    // The insert and, when the event has a notification already, reading it back in one
    // write transaction.
    sqlite::transaction tx{db_};
    const auto row = opened(n);
    {
      auto q = insert_.use();
      q->bind(1, row.event_id)
          .bind(2, row.user_email)
          .bind(3, row.airport_code)
          .bind(4, row.kind)
          .bind(5, row.channel)
          .bind(6, row.text)
          .bind(7, row.status)
          .bind(8, row.error)
          .bind(9, row.attempts)
          .bind(10, row.created_at_ms)
          .bind(11, row.updated_at_ms);
      if (q->run() == 1) {
        tx.commit();
        return std::nullopt;
      }
    }
    std::optional<record> existing;
    {
      auto q = find_.use();
      q->bind(1, n.event_id);
      if (q->step())
        existing = read(*q);
    }
    tx.commit();
    if (!existing)
      throw std::runtime_error("notifications.open: conflicting row not found");
    return existing;
  }

  void update(const std::string& event_id, const std::string& status, std::int64_t attempts,
              const std::string& error, std::int64_t now_ms) override {
    auto q = update_.use();
    q->bind(1, event_id).bind(2, status).bind(3, attempts).bind(4, error).bind(5, now_ms);
    q->run();
  }

  std::vector<record> for_user(const std::string& user_email, std::int64_t limit) override {
    std::vector<record> out;
    if (limit <= 0)
      return out;
    auto q = for_user_.use();
    q->bind(1, user_email).bind(2, limit);
    while (q->step())
      out.push_back(read(*q));
    return out;
  }

private:
  static record read(const sqlite::statement& q) {
    record r;
    r.event_id = q.column_text(0);
    r.user_email = q.column_text(1);
    r.airport_code = q.column_text(2);
    r.kind = q.column_text(3);
    r.channel = q.column_text(4);
    r.text = q.column_text(5);
    r.status = q.column_text(6);
    r.error = q.column_text(7);
    r.attempts = q.column_int64(8);
    r.created_at_ms = q.column_int64(9);
    r.updated_at_ms = q.column_int64(10);
    return r;
  }

  sqlite::database& db_;
  sqlite::statement insert_;
  sqlite::statement find_;
  sqlite::statement update_;
  sqlite::statement for_user_;
};

// -- Telegram link tokens -------------------------------------------------------------

constexpr std::string_view link_insert_sql = R"sql(
INSERT INTO telegram_link_tokens (token, user_email, created_at_ms, used)
VALUES (?1, ?2, ?3, 0)
)sql";

// Marks the token used and returns its user in one statement: of concurrent consumers
// only one finds used = 0.
constexpr std::string_view link_consume_sql = R"sql(
UPDATE telegram_link_tokens SET used = 1
WHERE token = ?1 AND used = 0 AND created_at_ms >= ?2
RETURNING user_email
)sql";

class sqlite_telegram_link_store final : public telegram_link_store {
public:
  explicit sqlite_telegram_link_store(sqlite::database& db)
    : db_(db), insert_(db, link_insert_sql), consume_(db, link_consume_sql) {}

  void create(const std::string& token, const std::string& user_email,
              std::int64_t now_ms) override {
    auto q = insert_.use();
    q->bind(1, token).bind(2, user_email).bind(3, now_ms);
    q->run();
  }

  std::optional<std::string> consume(const std::string& token,
                                     std::int64_t valid_after_ms) override {
    sqlite::transaction tx{db_};
    std::optional<std::string> email;
    {
      auto q = consume_.use();
      q->bind(1, token).bind(2, valid_after_ms);
      while (q->step()) // RETURNING: step to the end so the update completes
        email = q->column_text(0);
    }
    tx.commit();
    return email;
  }

private:
  sqlite::database& db_;
  sqlite::statement insert_;
  sqlite::statement consume_;
};

// -- session --------------------------------------------------------------------------

constexpr std::string_view create_migrations_table_sql = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version       INTEGER PRIMARY KEY,
  description   TEXT NOT NULL,
  applied_at_ms BIGINT NOT NULL
)
)sql";

constexpr std::string_view current_version_sql =
    "SELECT coalesce(max(version), 0) FROM schema_migrations";

constexpr std::string_view record_migration_sql =
    "INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES (?1, ?2, ?3)";

constexpr std::string_view probe_sql = "SELECT 1";

class sqlite_session final : public store_session {
public:
  explicit sqlite_session(const std::string& path)
    : db_(path), users_(db_), idempotency_(db_), interests_(db_), flights_(db_), alerts_(db_),
      notifications_(db_), telegram_links_(db_), probe_(db_, probe_sql) {}

  const char* backend() const override {
    return "sqlite";
  }

  void probe() override {
    auto q = probe_.use();
    if (!q->step())
      throw storage_unavailable("SQLite probe returned no row");
    // SELECT 1 never touches the file: check that it is still the one at the path.
    if (db_.file_moved())
      throw storage_unavailable("SQLite database file was deleted or moved");
  }

  int migrate() override {
    sqlite::statement current{db_, current_version_sql};
    sqlite::statement record{db_, record_migration_sql};
    const int latest = latest_schema_version();
    for (;;) {
      // BEGIN IMMEDIATE serialises concurrent migrations (other sessions or processes);
      // the version is re-read inside the transaction.
      sqlite::transaction tx{db_};
      db_.exec(create_migrations_table_sql);
      int version = 0;
      {
        auto q = current.use();
        q->step();
        version = static_cast<int>(q->column_int64(0));
      }
      if (version > latest)
        throw std::runtime_error("database schema version " + std::to_string(version) +
                                 " is newer than this build knows (" + std::to_string(latest) +
                                 ")");
      const migration* next = nullptr;
      for (const auto& m : migrations())
        if (m.version > version) {
          next = &m;
          break;
        }
      if (!next) {
        tx.commit();
        return version;
      }
      for (auto stmt : split_statements(next->sqlite))
        db_.exec(stmt);
      {
        auto q = record.use();
        q->bind(1, std::int64_t{next->version}).bind(2, next->description).bind(3, unix_ms());
        q->run();
      }
      tx.commit();
    }
  }

  void prepare_statements() override {
    // Nothing to gain: SQLite prepares a statement in microseconds, in process, on first
    // use (sqlite::statement).
  }

  void transaction(const std::function<bool()>& body) override {
    if (!db_.autocommit())
      throw std::logic_error("store_session::transaction is not reentrant");
    // The stores' own transactions become savepoints inside this one.
    sqlite::transaction tx{db_};
    if (body())
      tx.commit();
    else
      tx.rollback();
  }

  user_store& users() override {
    return users_;
  }

  idempotency_store& idempotency() override {
    return idempotency_;
  }

  interest_store& interests() override {
    return interests_;
  }

  flight_store& flights() override {
    return flights_;
  }

  alert_store& alerts() override {
    return alerts_;
  }

  notification_store& notifications() override {
    return notifications_;
  }

  telegram_link_store& telegram_links() override {
    return telegram_links_;
  }

private:
  sqlite::database db_; // first: the stores' statements are finalized before it closes
  sqlite_user_store users_;
  sqlite_idempotency_store idempotency_;
  sqlite_interest_store interests_;
  sqlite_flight_store flights_;
  sqlite_alert_store alerts_;
  sqlite_notification_store notifications_;
  sqlite_telegram_link_store telegram_links_;
  sqlite::statement probe_;
};

} // namespace

std::unique_ptr<store_session> open_sqlite_session(const std::string& path) {
  return std::make_unique<sqlite_session>(path);
}

} // namespace fw
