#pragma once
// Store interfaces, one per aggregate, and the session that owns one database connection
// and hands out the stores bound to it. Two implementations: persistence/sqlite/ and
// persistence/postgres/. Every call blocks: sessions live on storage worker threads
// (persistence/storage_service.cpp), never on CAF's scheduler.
//
// Failure contract for every call: a lost or unreachable database throws
// storage_unavailable (the worker answers ec::unavailable and reopens the session on
// its next task); any other failure throws std::runtime_error. Messages never carry
// passwords or parameter values.

#include "messages/types.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fw {

struct storage_location;

/// The database cannot be reached (down, connection lost, not yet created).
class storage_unavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Users and their Telegram link (the seed's users table).
class user_store {
public:
  enum class write_result { ok, not_found, email_taken, tax_code_taken, chat_id_taken };

  virtual ~user_store() = default;

  /// Inserts `u` (telegram_chat_id ignored). ok, email_taken or tax_code_taken; never
  /// overwrites. An empty tax_code / iban is stored as NULL.
  virtual write_result create(const user& u) = 0;
  /// create() of each user, answers in the same order. Of users sharing an email the
  /// first is created, unless a tax code keeps it out: users of one batch compete for
  /// emails and tax codes as concurrent requests do, and `ok` always means that this
  /// user's data was stored. The default calls create() per user; PostgreSQL inserts them
  /// with one statement.
  virtual std::vector<write_result> create_many(const std::vector<user>& users);
  /// A user to create under a fresh Idempotency-Key (create_many_with_keys).
  struct keyed_user {
    user u;
    std::string key;
    std::string fingerprint; // what the key is bound to
  };
  /// The quick way to create users under Idempotency-Keys: each user is inserted together
  /// with its key, stored as completed with the answer `status` and `body` (and no claim
  /// token: nothing was ever claimed), or neither is.
  /// A user whose key exists already, or whose email or tax code is taken, is left out and
  /// goes the general way (claim, create_many, complete). Keys and emails must be distinct
  /// within `users`. Commits on its own (not inside store_session::transaction()). Throws
  /// when it cannot tell (a concurrent request took one of the keys meanwhile): then it
  /// changed nothing. Answers which users were created. The default creates none: only
  /// PostgreSQL has round trips to save (one statement instead of five).
  virtual std::vector<bool> create_many_with_keys(const std::vector<keyed_user>& users,
                                                  std::uint16_t status, const std::string& body,
                                                  std::int64_t now_ms);
  /// The user with exactly this (normalised) email.
  virtual std::optional<user> find(const std::string& email) = 0;
  /// find() of each email, answers in the same order (one statement on PostgreSQL).
  virtual std::vector<std::optional<user>> find_many(const std::vector<std::string>& emails);
  /// Every user, ordered by email.
  virtual std::vector<user> list() = 0;
  /// Deletes the user; false when there was none.
  virtual bool remove(const std::string& email) = 0;
  /// Sets the chat id: ok (also when it was already this id), not_found, or
  /// chat_id_taken when another user has it. Linking makes the chat active again.
  virtual write_result set_telegram_chat_id(const std::string& email, std::int64_t chat_id) = 0;
  /// Telegram answered 403 for this chat (bot blocked): no more messages go to it until
  /// it is linked again. find() reports such a user without a telegram_chat_id.
  virtual void mark_chat_inactive(std::int64_t chat_id) = 0;
};

/// Idempotency keys (the seed's idempotency_keys table, bound to a request fingerprint).
/// Times are unix milliseconds, passed in so tests control the clock.
class idempotency_store {
public:
  struct claim_result {
    enum class outcome {
      claimed,     // the caller owns the key now: run the request, then complete()
      in_progress, // another request holds it (and is not stale)
      completed,   // done before: replay status and body
      mismatch,    // the key was used for a different request (fingerprint differs)
    };
    outcome result = outcome::claimed;
    std::uint16_t status = 0; // for completed
    std::string body;         // for completed
  };

  struct claim_request {
    std::string key;
    std::string fingerprint; // hash of (operation, path, canonical body)
    std::string token;       // random, identifies this claim for complete()
    std::string user_email;  // informative, as the seed's column
    std::int64_t now_ms = 0;
    std::int64_t expired_before_ms = 0; // a completed key created before this is absent
    std::int64_t stale_before_ms = 0;   // an in-progress key created before this is re-claimable
  };

  /// What complete() stores for one claim.
  struct completion {
    std::string key;
    std::string token;
    std::uint16_t status = 0;
    std::string body;
  };

  virtual ~idempotency_store() = default;

  /// Atomic check-and-claim: of any number of concurrent claims of one absent key,
  /// exactly one gets `claimed`. A stale in-progress claim with the same fingerprint and
  /// an expired completed key are taken over (claimed, with the new token). Inside
  /// store_session::transaction() the claim commits with the rest of it; until then other
  /// sessions get `in_progress` on PostgreSQL, and wait for the commit on SQLite.
  virtual claim_result claim(const claim_request& req) = 0;
  /// claim() of each request, answers in the same order. A request later in `reqs` with
  /// the key of an earlier one finds that claim: in_progress (or mismatch). The default
  /// calls claim() per request; PostgreSQL claims the absent keys with one statement.
  virtual std::vector<claim_result> claim_many(const std::vector<claim_request>& reqs);
  /// Stores the outcome; only the holder of `token` can complete. False when the claim
  /// was lost (taken over after going stale).
  virtual bool complete(const std::string& key, const std::string& token, std::uint16_t status,
                        const std::string& body) = 0;
  /// complete() of each; how many were completed (one statement on PostgreSQL).
  virtual std::size_t complete_many(const std::vector<completion>& done);
  /// Deletes keys created before `expired_before_ms`; returns how many.
  virtual std::uint64_t purge(std::int64_t expired_before_ms) = 0;
};

/// Users' airport interests with thresholds (the seed's user_interests table); one row per
/// (user_email, airport_code).
class interest_store {
public:
  virtual ~interest_store() = default;

  /// What upsert() did.
  enum class upsert_outcome { inserted, updated, no_user };
  /// Inserts the interest, or replaces the thresholds of an existing one, when the users
  /// table has its user_email; no_user (nothing stored) when it has not. The user is
  /// looked up in the same call (one statement on PostgreSQL, one write transaction on
  /// SQLite), so an interest add is one database call.
  virtual upsert_outcome upsert(const interest& i) = 0;
  /// Replaces the thresholds of an existing interest; false when there is none.
  virtual bool update_thresholds(const interest& i) = 0;
  /// False when there was none.
  virtual bool remove(const std::string& user_email, const std::string& airport_code) = 0;
  /// Every interest of the user, ordered by airport.
  virtual std::vector<interest> for_user(const std::string& user_email) = 0;
  /// Deletes every interest of the user; how many.
  virtual std::uint64_t remove_all_of_user(const std::string& user_email) = 0;
  /// Every interest in the airport, ordered by user.
  virtual std::vector<interest> for_airport(const std::string& airport_code) = 0;
  /// The distinct airports anyone is interested in, ordered.
  virtual std::vector<std::string> airports() = 0;
};

/// Flights (the seed's flight_data table), deduplicated on (icao24, first_seen,
/// est_departure_airport, est_arrival_airport); an unknown airport is stored as "" so it
/// takes part in the deduplication.
///
/// `type` is "arrivals", "departures" or "" (both). A flight's time at an airport is its
/// last_seen for an arrival there and its first_seen for a departure; "" matches a flight
/// arriving at or departing from the airport, timed by its arrival when it arrives there.
class flight_store {
public:
  virtual ~flight_store() = default;

  /// Stores the flights not stored yet, in one transaction; how many were new.
  virtual std::uint64_t insert(const std::vector<flight>& flights) = 0;
  /// Flights at the airport, newest first by their time there, within since/until
  /// (inclusive, when given), at most `limit`.
  virtual std::vector<flight> list(const flight_query& q) = 0;
  /// How many flights have their time at the airport within [from, to] (unix seconds).
  virtual std::int64_t count(const std::string& airport_code, const std::string& type,
                             std::int64_t from, std::int64_t to) = 0;
  /// The flight with the latest time at the airport.
  virtual std::optional<flight> last(const std::string& airport_code,
                                     const std::string& type) = 0;
};

/// The alert-evaluator's memory: the state of each (user, airport) whose condition is
/// firing, and which to-alert-system events it has processed (with what it produced),
/// so a redelivered event changes nothing and re-publishes the same notice.
class alert_store {
public:
  struct state {
    std::string user_email;
    std::string airport_code;
    std::string condition;   // "high" or "low" (a row exists only while firing)
    std::int64_t threshold = 0;
    std::int64_t flight_count = 0;
    std::int64_t since_ms = 0;          // when it started firing
    std::int64_t last_notified_ms = 0;
    friend bool operator==(const state&, const state&) = default;
  };

  virtual ~alert_store() = default;

  virtual std::optional<state> find(const std::string& user_email,
                                    const std::string& airport_code) = 0;
  /// What processing `event_id` produced ("" = nothing to publish), or nullopt when it
  /// was never processed.
  virtual std::optional<std::string> processed(const std::string& event_id) = 0;
  /// In one transaction: marks `event_id` processed with `output`, and stores `next` as
  /// the state of (user, airport) — or deletes that state when `next` is nullopt. False
  /// (and nothing changed) when the event was processed before.
  virtual bool record(const std::string& event_id, const std::string& user_email,
                      const std::string& airport_code, const std::optional<state>& next,
                      const std::string& output, std::int64_t now_ms) = 0;
  /// Forgets processed events recorded before `before_ms`; how many.
  virtual std::uint64_t purge_processed(std::int64_t before_ms) = 0;
};

/// Every notification the notifier handled (user, channel, text, status, attempts,
/// timestamps), one per to-notifier event.
class notification_store {
public:
  struct record {
    std::string event_id;
    std::string user_email;
    std::string airport_code;
    std::string kind;    // firing, repeat, resolved, sla_breach
    std::string channel; // telegram or console
    std::string text;
    std::string status;  // pending, sent, failed, skipped
    std::string error;   // why failed / skipped ("" otherwise)
    std::int64_t attempts = 0;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
    friend bool operator==(const record&, const record&) = default;
  };

  virtual ~notification_store() = default;

  /// Inserts `n` (status pending) unless a notification for n.event_id exists: then
  /// returns it unchanged (a redelivered event is not sent twice once it is sent).
  virtual std::optional<record> open(const record& n) = 0;
  /// Final (or intermediate) outcome of the event's notification.
  virtual void update(const std::string& event_id, const std::string& status,
                      std::int64_t attempts, const std::string& error, std::int64_t now_ms) = 0;
  /// The user's notifications, newest first, at most `limit`.
  virtual std::vector<record> for_user(const std::string& user_email, std::int64_t limit) = 0;
};

/// How long a Telegram deep-link token may be used.
inline constexpr std::chrono::hours telegram_link_lifetime{1};

/// One-time tokens for linking a Telegram chat through https://t.me/<bot>?start=<token>.
class telegram_link_store {
public:
  virtual ~telegram_link_store() = default;

  virtual void create(const std::string& token, const std::string& user_email,
                      std::int64_t now_ms) = 0;
  /// The user of an unused token created at or after `valid_after_ms`, consuming it
  /// (a token works once).
  virtual std::optional<std::string> consume(const std::string& token,
                                             std::int64_t valid_after_ms) = 0;
};

/// One open connection and the stores that use it. Not thread-safe: one per worker.
class store_session {
public:
  virtual ~store_session() = default;

  /// "sqlite" or "postgres" (metric label).
  virtual const char* backend() const = 0;
  /// A cheap round trip proving the connection works; throws storage_unavailable if not.
  virtual void probe() = 0;
  /// Applies every migration newer than the database's schema version, each in its own
  /// transaction (persistence/migrations.hpp); returns the resulting version. Safe to run
  /// from several processes at once. Throws std::runtime_error for a database written by
  /// a newer version (it is never downgraded or dropped).
  virtual int migrate() = 0;
  /// Readies the session's statements now (call after migrate()), so the first calls
  /// after connecting do not pay for parsing and planning them (PostgreSQL: a fresh
  /// server process also loads its catalog caches then).
  virtual void prepare_statements() = 0;

  /// Runs `body` as one transaction: the store calls it makes commit together when it
  /// returns true, and none of them stays when it returns false or throws. One commit
  /// instead of one per call (on PostgreSQL one WAL flush; on SQLite the write lock is
  /// taken once, at the start, so other sessions' writes wait for the whole body).
  /// Not reentrant (std::logic_error). Calls that are transactions of their own
  /// (flights().insert(), alerts().record(), ...) become savepoints inside it.
  virtual void transaction(const std::function<bool()>& body) = 0;

  virtual user_store& users() = 0;
  virtual idempotency_store& idempotency() = 0;
  virtual interest_store& interests() = 0;
  virtual flight_store& flights() = 0;
  virtual alert_store& alerts() = 0;
  virtual notification_store& notifications() = 0;
  virtual telegram_link_store& telegram_links() = 0;
};

/// Opens a session to `where`; throws storage_unavailable when the database cannot be
/// reached (message safe to log).
std::unique_ptr<store_session> open_session(const storage_location& where);

} // namespace fw
