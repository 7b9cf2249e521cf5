#pragma once

// A fake Telegram Bot API for tests, built on scripted_http_server. It speaks the
// Bot API's wire format (GET or POST; parameters as JSON body, form body or query):
//
//   /bot<token>/sendMessage  chat_id, text, parse_mode, disable_web_page_preview
//        -> 200 {"ok":true,"result":{"message_id":N,"from":{..bot..},"chat":{"id":..},
//                "date":<unix>,"text":"<what the user sees>"}}
//   /bot<token>/getUpdates   offset, timeout, limit (allowed_updates is accepted)
//        -> 200 {"ok":true,"result":[{"update_id":N,"message":{"message_id":..,
//                "from":{"id":..,"is_bot":false,"first_name":..,"username":..},
//                "chat":{"id":..,"type":"private",..},"date":..,"text":..}}, ...]}
//   /bot<token>/getMe        -> 200 {"ok":true,"result":{"id":..,"is_bot":true,
//                "first_name":..,"username":..}}
//
// Errors as Telegram sends them: {"ok":false,"error_code":N,"description":"..."} (429 adds
// "parameters":{"retry_after":N}). Like Telegram, sendMessage with parse_mode HTML checks
// the markup (supported tags, nesting, entities: "Bad Request: can't parse entities: ..."),
// and the length after entity parsing (4096 UTF-16 code units, "Bad Request: message is
// too long").
//
// getUpdates follows Telegram's offset rules (an offset confirms every update below it;
// a negative one returns the last -offset updates). Long poll: with no update to return
// the answer is sent after min(timeout, long-poll cap) (default cap 200 ms). Unlike
// Telegram, an update pushed during that wait is only returned by the next call (the
// scripted server computes an answer when the request arrives).
//
// Tokens: requests with the fake's token are served; with a token added by
// add_invalid_token() or replaced by revoke_token() they get 401 Unauthorized; with any
// other token the scripted server's 404 (whose body names the path, token included).
//
// Thread-safe: every member may be called while requests are being served (handlers run
// on the server's io thread).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/fakes/scripted_http_server.hpp"

namespace fw::test {

class fake_telegram {
 public:
  /// What the fake recorded of one sendMessage call.
  struct sent_message {
    std::int64_t chat_id = 0;  // 0 if missing or not an integer
    std::string text;          // as sent (Telegram HTML when parse_mode is HTML)
    std::string plain_text;    // what the user sees: tags removed, entities decoded
                               // ("" when the answer was not 200)
    std::string parse_mode;    // "" if none
    bool disable_web_page_preview = false;
    unsigned status = 0;            // what the fake answered
    std::string description;        // of an error answer
    std::int64_t message_id = 0;    // in a 200 answer
    std::chrono::steady_clock::time_point time;  // when the request arrived
  };

  /// What the fake recorded of one getUpdates call.
  struct updates_call {
    std::int64_t offset = 0;    // as sent (0 if none)
    std::int64_t timeout = 0;   // seconds, as sent
    unsigned status = 0;
    std::size_t returned = 0;   // updates in the answer
    std::chrono::steady_clock::time_point time;
  };

  static constexpr const char* default_token = "123456789:AAF-fake_Telegram_token_for_tests";

  /// Starts listening at once; port 0 picks a free port. The bot's id is the token's
  /// number ("123456789:..." -> 123456789).
  explicit fake_telegram(std::string token = default_token, std::uint16_t port = 0);
  ~fake_telegram();
  fake_telegram(const fake_telegram&) = delete;
  fake_telegram& operator=(const fake_telegram&) = delete;

  /// telegram.api_url: "http://127.0.0.1:PORT".
  std::string url() const;
  std::uint16_t port() const;
  /// The token the fake serves.
  std::string token() const;
  /// getMe's username (default "flightwatch_test_bot").
  std::string bot_username() const;
  void set_bot_username(std::string username);

  // --- tokens -----------------------------------------------------------------------
  /// Requests with this token are answered 401 Unauthorized.
  void add_invalid_token(const std::string& token);
  /// BotFather's /revoke: the current token gets 401 from now on; returns the new one.
  std::string revoke_token();

  // --- failure scripting (sendMessage) -----------------------------------------------
  /// The next n sendMessage calls answer status (500, 502, 400, ...) with Telegram's
  /// error body ("Internal Server Error", "Bad Gateway", "Bad Request: ...").
  void fail_next(std::size_t n, unsigned status = 500);
  /// The next n sendMessage calls answer 429 "Too Many Requests: retry after N" with
  /// parameters.retry_after (and a Retry-After header).
  void rate_limit_next(std::size_t n, long retry_after_seconds);
  /// Scripted failures queue up in call order.
  void clear_scripted_failures();
  /// sendMessage to chat_id answers 403 "Forbidden: bot was blocked by the user".
  void block_chat(std::int64_t chat_id);
  void unblock_chat(std::int64_t chat_id);
  /// sendMessage to chat_id answers 400 "Bad Request: chat not found".
  void remove_chat(std::int64_t chat_id);
  /// Every sendMessage and getMe answer is sent this late (other connections go on).
  void set_delay(std::chrono::milliseconds delay);
  /// The next n getUpdates calls answer status (e.g. 502, or 409 "Conflict: ...").
  void fail_updates_next(std::size_t n, unsigned status = 502);

  // --- updates ------------------------------------------------------------------------
  /// Queues a text message from a user whose private chat is chat_id (negative: a group
  /// message from user 1000); returns its update_id. Texts starting with "/" carry a
  /// bot_command entity.
  std::int64_t push_update(std::int64_t chat_id, std::string text,
                           std::optional<std::string> username = std::nullopt);
  /// Queues any update: a JSON object without "update_id" (e.g. {"edited_message":{..}});
  /// returns its update_id.
  std::int64_t push_raw_update(const std::string& update_json);
  /// Updates not yet confirmed by an offset.
  std::size_t pending_updates() const;
  /// getUpdates waits at most this long for updates (default 200 ms).
  void set_long_poll_cap(std::chrono::milliseconds cap);

  // --- outage ---------------------------------------------------------------------------
  void stop();
  void start();
  bool running() const;

  // --- introspection ----------------------------------------------------------------
  /// Every sendMessage call, answered 200 or not, in arrival order.
  std::vector<sent_message> calls() const;
  /// The messages delivered (answered 200), in arrival order.
  std::vector<sent_message> messages() const;
  std::vector<sent_message> messages_to(std::int64_t chat_id) const;
  /// True once at least count messages were delivered.
  bool wait_for_messages(std::size_t count, std::chrono::milliseconds timeout) const;
  std::vector<updates_call> update_calls() const;
  std::size_t request_count() const;  // every HTTP request
  /// Forgets recorded calls (not the update queue).
  void clear_requests();

  /// The underlying server, for anything not covered here.
  scripted_http_server& server();

  struct state;

 private:
  void serve_token(const std::string& token);

  std::shared_ptr<state> state_;
  scripted_http_server server_;
};

/// Telegram's reading of HTML-formatted text: the text a user sees, or the error Telegram
/// answers ("Unsupported start tag \"foo\" at byte offset 0", ...).
struct telegram_html {
  std::string plain;
  std::string error;  // "" if the markup is fine
};
telegram_html parse_telegram_html(const std::string& html);

/// Length in UTF-16 code units (what Telegram counts); invalid UTF-8 bytes count one.
std::size_t utf16_length(const std::string& text);

}  // namespace fw::test
