#pragma once
// The Telegram Bot API client: sendMessage (HTML parse mode), getUpdates (long poll, for
// "/start <token>" deep links) and getMe. Blocking, over fw::http_client: one client per
// worker thread. Every answer is classified (ok, retry_after, blocked, transient, rejected)
// into a result, never thrown. The bot token is part of every URL (/bot<token>/<method>):
// it never appears in a result, so callers may log and store descriptions as they are.
//
// Also here: HTML escaping and Telegram's 4096-character cut for message texts, deep-link
// helpers, and the rate limiter of the notifier's outbox (per chat and overall).

#include "actors/common/http_client.hpp"
#include "config/settings.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fw {

// --- message text ------------------------------------------------------------------------

/// Telegram's limit for a message: 4096 characters (UTF-16 code units) after entity parsing.
constexpr std::size_t telegram_max_text = 4096;

/// `text` made safe to place inside Telegram HTML: & < > " ' become entities.
std::string html_escape(std::string_view text);

/// The length Telegram checks against telegram_max_text: UTF-16 code units of the text a
/// user sees (tags count nothing, an entity such as "&amp;" one character, a character
/// outside the Basic Multilingual Plane two). Invalid UTF-8 bytes count one each.
std::size_t telegram_text_length(std::string_view html);

/// `html` unchanged if telegram_text_length(html) <= max_length; else cut so that the result,
/// ending in "…", has at most max_length. The cut never splits a UTF-8 sequence, an entity
/// or a tag, and tags still open at the cut are closed ("<b>long…</b>").
std::string truncate_html(std::string_view html, std::size_t max_length = telegram_max_text);

// --- deep links --------------------------------------------------------------------------

/// A deep-link payload Telegram accepts: 1-64 characters of A-Z a-z 0-9 _ -.
bool valid_start_payload(std::string_view payload);

/// "https://t.me/<bot>?start=<payload>".
std::string telegram_deep_link(std::string_view bot_username, std::string_view payload);

/// The payload of a "/start <payload>" (or "/start@<bot> <payload>") message: "" for a bare
/// "/start", nullopt when `text` is not a /start command.
std::optional<std::string> start_payload(std::string_view text);

// --- results -----------------------------------------------------------------------------

enum class telegram_status {
  ok,          // done (sendMessage: the message was sent)
  retry_after, // 429 flood control: wait `retry_after`, then retry
  blocked,     // 403 (bot blocked, kicked, user deactivated) or "chat not found": stop
               // sending to this chat
  transient,   // 5xx, timeout, network error, malformed answer: retry with backoff
  rejected,    // any other 4xx (bad request, unauthorized token, ...): permanent
};

/// "ok", "retry_after", "blocked", "transient", "rejected".
const char* to_string(telegram_status status);

/// The classified outcome of one API call.
struct telegram_outcome {
  telegram_status status = telegram_status::transient;
  long http_status = 0;       // 0: no HTTP answer (network error, timeout, or not sent)
  std::string description;    // Telegram's "description" or what went wrong; never the token
  std::chrono::seconds retry_after{0};           // set for retry_after
  bool timed_out = false;                        // transient because of the timeout
  std::chrono::steady_clock::duration elapsed{}; // the HTTP call (telegram_api_duration_seconds)

  bool ok() const {
    return status == telegram_status::ok;
  }
};

struct telegram_send_result : telegram_outcome {
  std::int64_t message_id = 0; // set when ok
};

/// One entry of getUpdates. Update kinds other than a new message only advance the offset.
struct telegram_update {
  std::int64_t update_id = 0;
  bool has_message = false;            // update.message is present
  std::int64_t chat_id = 0;            // message.chat.id
  std::string text;                    // message.text ("" for stickers, photos, ...)
  std::optional<std::string> username; // message.from.username, if the user has one
};

struct telegram_updates_result : telegram_outcome {
  std::vector<telegram_update> updates; // in update_id order
  /// The offset for the next call: the highest update_id + 1, or the offset passed in.
  std::int64_t next_offset = 0;
};

struct telegram_me_result : telegram_outcome {
  std::int64_t id = 0;
  std::string username; // without "@"
};

// --- client ------------------------------------------------------------------------------

class telegram_client {
public:
  /// Uses cfg.api_url, cfg.bot_token and cfg.timeout. An empty or malformed token (anything
  /// but digits, letters, ':', '_' and '-') makes every call `rejected` without a request.
  explicit telegram_client(const telegram_settings& cfg);

  /// sendMessage with parse_mode HTML and link previews off. `html` is Telegram HTML
  /// (html_escape user-controlled parts); it is cut with truncate_html first.
  telegram_send_result send_message(std::int64_t chat_id, std::string_view html);

  /// getUpdates for new messages from `offset` (0: every unconfirmed update; passing
  /// next_offset confirms what was received). Long-polls up to `poll_timeout` (0: answers
  /// at once); the HTTP timeout is poll_timeout + cfg.timeout.
  telegram_updates_result get_updates(std::int64_t offset, std::chrono::seconds poll_timeout);

  /// getMe: the bot's id and username (for deep links).
  telegram_me_result get_me();

  /// Calls in progress are abandoned (transient, "cancelled") once `*flag` is true.
  void set_cancel_flag(std::shared_ptr<const std::atomic<bool>> flag) {
    http_.set_cancel_flag(std::move(flag));
  }

  /// `text` with every occurrence of the bot token (plain or percent-encoded) replaced by
  /// "<token>".
  std::string scrub(std::string_view text) const;

private:
  /// Performs one call and classifies the answer; `result` is Telegram's "result" when ok.
  telegram_outcome call(const char* http_method, const char* api_method,
                        const std::string& json_body, std::chrono::milliseconds timeout,
                        nlohmann::json& result);

  std::string api_url_;   // without a trailing "/"
  std::string token_;     // secret
  std::string token_escaped_;
  bool token_usable_ = false;
  std::chrono::milliseconds timeout_;
  http_client http_;
};

// --- rate limiter ------------------------------------------------------------------------

/// Send slots that keep Telegram's limits: at most one message per `per_chat` to a private
/// chat (`per_group` to a group, chat id < 0) and at most `global_per_second` messages in
/// any one-second window over all chats (bursts up to that many are allowed). Thread-safe,
/// though the notifier's outbox is its one user. Deterministic: time is always passed in.
class telegram_rate_limiter {
public:
  using clock = std::chrono::steady_clock;

  /// per_chat and global_per_second default to the telegram section's defaults.
  struct limits {
    clock::duration per_chat = telegram_settings{}.per_chat_interval; // 0: no per-chat limit
    clock::duration per_group = std::chrono::seconds{3}; // Telegram: 20 a minute in a group
    unsigned global_per_second = telegram_settings{}.global_per_second; // 0: no overall limit

    /// per_chat and global_per_second from the telegram section (per_group stays 3 s).
    static limits from(const telegram_settings& cfg);
  };

  explicit telegram_rate_limiter(limits lim);
  telegram_rate_limiter() : telegram_rate_limiter(limits{}) {
  }

  /// Reserves a send to `chat_id`: the earliest time >= now that keeps both limits given
  /// every earlier reservation (and holds). The caller sends at that time, not before; a
  /// reservation that is not used still counts.
  clock::time_point reserve(std::int64_t chat_id, clock::time_point now);

  /// No reservation for `chat_id` before `until` (Telegram answered 429 retry_after).
  void hold(std::int64_t chat_id, clock::time_point until);
  /// No reservation for any chat before `until`.
  void hold_all(clock::time_point until);

  /// Chats with a reservation still in the future (bounded: older ones are forgotten).
  std::size_t tracked_chats() const;

private:
  /// The earliest t >= from at which one more send keeps the overall limit.
  clock::time_point fit_global(clock::time_point from) const;
  void forget_before(clock::time_point now);

  limits limits_;
  mutable std::mutex mtx_;
  clock::time_point latest_now_{};                     // `now` never goes back
  clock::time_point all_held_until_{};
  std::map<std::int64_t, clock::time_point> next_for_chat_; // earliest next send per chat
  std::multiset<clock::time_point> recent_;            // reservations within the last second+
  std::size_t prune_at_ = 1024;                         // next_for_chat_ size of the next sweep
};

} // namespace fw
