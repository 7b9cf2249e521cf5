// The Telegram Bot API client (actors/notifier/telegram_client.hpp) against the fake
// Telegram (tests/fakes/fake_telegram.hpp): sendMessage and the classification of every
// answer, HTML escaping and the 4096-character cut, getUpdates offsets and /start deep
// links, getMe, and the bot token never showing up in a result. The fake is first checked
// with plain HTTP, so the client is held to Telegram's wire format, not to the fake's
// quirks. Then the rate limiter, deterministic with injected time.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/notifier/telegram_client.hpp"
#include "tests/fakes/fake_telegram.hpp"
#include "tests/support/net.hpp"

namespace fw::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

telegram_settings settings_for(const fake_telegram& fake,
                               std::chrono::milliseconds timeout = 3s) {
  telegram_settings cfg;
  cfg.api_url = fake.url();
  cfg.bot_token = fake.token();
  cfg.timeout = timeout;
  return cfg;
}

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

bool valid_utf8(const std::string& s) {
  // utf16_length counts an invalid byte as one unit, a valid sequence as one or two:
  // re-encoding through JSON (strict) is the independent check.
  try {
    (void)json(s).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

// Every text a result carries, for the token-leak checks.
std::string all_text(const telegram_outcome& r) { return r.description; }

// ---------------------------------------------------------------------------
// The fake, over plain HTTP

TEST(fake_telegram, send_message_answers_like_telegram) {
  fake_telegram fake;
  auto r = http_request(
      "POST", fake.url() + "/bot" + fake.token() + "/sendMessage",
      R"({"chat_id":42,"text":"<b>EDDF</b> &amp; more","parse_mode":"HTML"})",
      {"Content-Type: application/json"});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["result"]["message_id"], 1);
  EXPECT_EQ(j["result"]["chat"]["id"], 42);
  EXPECT_EQ(j["result"]["text"], "EDDF & more");
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_EQ(fake.messages()[0].plain_text, "EDDF & more");

  // Form-encoded parameters work too; message ids count per chat.
  r = http_request("POST", fake.url() + "/bot" + fake.token() + "/sendMessage",
                   "chat_id=42&text=" + url_encode("hi there"),
                   {"Content-Type: application/x-www-form-urlencoded"});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["result"]["message_id"], 2);
}

TEST(fake_telegram, errors_have_telegram_bodies) {
  fake_telegram fake;
  const auto send = fake.url() + "/bot" + fake.token() + "/sendMessage";
  const std::vector<std::string> json_type{"Content-Type: application/json"};

  fake.rate_limit_next(1, 9);
  auto r = http_request("POST", send, R"({"chat_id":1,"text":"x"})", json_type);
  EXPECT_EQ(r.status, 429);
  auto j = json::parse(r.body);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["error_code"], 429);
  EXPECT_EQ(j["parameters"]["retry_after"], 9);
  EXPECT_EQ(j["description"], "Too Many Requests: retry after 9");

  fake.block_chat(5);
  r = http_request("POST", send, R"({"chat_id":5,"text":"x"})", json_type);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(json::parse(r.body)["description"], "Forbidden: bot was blocked by the user");

  r = http_request("POST", send, R"({"chat_id":1,"text":"a < b","parse_mode":"HTML"})",
                   json_type);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["description"].get<std::string>().rfind(
                "Bad Request: can't parse entities: ", 0),
            0u);

  // Telegram's limit is on the text after entity parsing: 4096 "&amp;" pass, 4097 do not.
  r = http_request("POST", send,
                   json{{"chat_id", 1}, {"text", repeat("&amp;", 4096)}, {"parse_mode", "HTML"}}
                       .dump(),
                   json_type);
  EXPECT_EQ(r.status, 200) << r.body;
  r = http_request("POST", send,
                   json{{"chat_id", 1}, {"text", repeat("&amp;", 4097)}, {"parse_mode", "HTML"}}
                       .dump(),
                   json_type);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["description"], "Bad Request: message is too long");

  fake.add_invalid_token("999:wrong");
  r = http_request("POST", fake.url() + "/bot999:wrong/sendMessage",
                   R"({"chat_id":1,"text":"x"})", json_type);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json::parse(r.body),
            json::parse(R"({"ok":false,"error_code":401,"description":"Unauthorized"})"));
  EXPECT_EQ(fake.messages().size(), 1u);
  EXPECT_EQ(fake.calls().size(), 5u);  // the 401 never reached sendMessage
}

TEST(fake_telegram, html_is_read_the_way_telegram_reads_it) {
  EXPECT_EQ(parse_telegram_html("<b>bold</b> <i>it</i> <a href=\"https://x.y/?a=1&b=2\">l</a>")
                .plain,
            "bold it l");
  EXPECT_EQ(parse_telegram_html("&lt;&gt;&amp;&quot;&#39;&#x1F600;").plain,
            "<>&\"'\xF0\x9F\x98\x80");
  EXPECT_EQ(parse_telegram_html("fish & chips").plain, "fish & chips");  // lone & is kept
  EXPECT_EQ(parse_telegram_html("<foo>").error, "Unsupported start tag \"foo\" at byte offset 0");
  EXPECT_EQ(parse_telegram_html("<b>x").error,
            "Can't find end tag corresponding to start tag \"b\"");
  EXPECT_EQ(parse_telegram_html("<b>x</i>").error,
            "Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\"");
  EXPECT_FALSE(parse_telegram_html("a < b").error.empty());
  EXPECT_EQ(utf16_length("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), 5u);  // a é € 😀
}

// ---------------------------------------------------------------------------
// Message text

TEST(telegram_text, html_escape_covers_markup_and_quotes) {
  EXPECT_EQ(html_escape(R"(<b>&"'</b>)"), "&lt;b&gt;&amp;&quot;&#39;&lt;/b&gt;");
  EXPECT_EQ(html_escape("plain EDDF \xE2\x82\xAC"), "plain EDDF \xE2\x82\xAC");
  EXPECT_EQ(html_escape(""), "");
  // What Telegram shows is exactly the user's text.
  EXPECT_EQ(parse_telegram_html(html_escape(R"(<b>&"'</b> &amp; <script>)")).plain,
            R"(<b>&"'</b> &amp; <script>)");
}

TEST(telegram_text, length_counts_what_telegram_counts) {
  EXPECT_EQ(telegram_text_length("abc"), 3u);
  EXPECT_EQ(telegram_text_length("<b>abc</b>"), 3u);
  EXPECT_EQ(telegram_text_length("a&amp;b&lt;&#128512;"), 6u);  // &#128512; is an emoji: 2
  EXPECT_EQ(telegram_text_length("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), 4u);  // é € 😀
  EXPECT_EQ(telegram_text_length("fish & chips"), 12u);
}

TEST(telegram_text, short_text_is_not_cut) {
  const auto exact = repeat("a", 4096);
  EXPECT_EQ(truncate_html(exact), exact);
  const auto emoji = repeat("\xF0\x9F\x98\x80", 2048);  // 2048 emoji = 4096 units
  EXPECT_EQ(truncate_html(emoji), emoji);
  EXPECT_EQ(truncate_html("<b>x</b>"), "<b>x</b>");
}

TEST(telegram_text, cut_keeps_utf8_sequences_whole) {
  const std::string ellipsis = "\xE2\x80\xA6";
  // 4094 ASCII, then two-byte é: 4094 + é fits with the ellipsis (4096), the next é not.
  auto cut = truncate_html(repeat("a", 4094) + repeat("\xC3\xA9", 10));
  EXPECT_EQ(cut, repeat("a", 4094) + "\xC3\xA9" + ellipsis);
  EXPECT_EQ(telegram_text_length(cut), 4096u);
  // An emoji counts two: it does not fit in the last unit, so it goes entirely.
  cut = truncate_html(repeat("a", 4094) + "\xF0\x9F\x98\x80" + repeat("b", 10));
  EXPECT_EQ(cut, repeat("a", 4094) + ellipsis);
  // Three-byte € all the way.
  cut = truncate_html(repeat("\xE2\x82\xAC", 5000));
  EXPECT_EQ(cut, repeat("\xE2\x82\xAC", 4095) + ellipsis);
  EXPECT_TRUE(valid_utf8(cut));
  EXPECT_EQ(utf16_length(cut), 4096u);
}

TEST(telegram_text, cut_never_splits_an_entity_or_leaves_a_tag_open) {
  const std::string ellipsis = "\xE2\x80\xA6";
  // "&amp;" straddling the cut goes as a whole.
  auto cut = truncate_html(repeat("a", 4094) + "&amp;&amp;&amp;");
  EXPECT_EQ(cut, repeat("a", 4094) + "&amp;" + ellipsis);
  auto parsed = parse_telegram_html(cut);
  EXPECT_EQ(parsed.error, "");
  EXPECT_EQ(utf16_length(parsed.plain), 4096u);

  cut = truncate_html("<b>Alert</b> <i>" + repeat("x", 5000) + "</i>");
  EXPECT_EQ(cut.substr(cut.size() - 7), ellipsis + "</i>");
  parsed = parse_telegram_html(cut);
  EXPECT_EQ(parsed.error, "");
  EXPECT_EQ(utf16_length(parsed.plain), 4096u);
  EXPECT_EQ(parsed.plain.substr(0, 8), "Alert xx");

  // Random mixes of every kind of piece: valid markup, <= 4096, a prefix of the original.
  std::mt19937 rng{7};
  const std::vector<std::string> pieces{"a",        " ",     "\xC3\xA9", "\xE2\x82\xAC",
                                        "\xF0\x9F\x98\x80", "&amp;", "&lt;", "&#128512;",
                                        "<b>x</b>", "<a href=\"https://t.me/?a=1&amp;b=2\">l</a>"};
  for (int round = 0; round < 200; ++round) {
    std::string html;
    const auto n = std::uniform_int_distribution<int>{3000, 6000}(rng);
    for (int i = 0; i < n; ++i)
      html += pieces[std::uniform_int_distribution<std::size_t>{0, pieces.size() - 1}(rng)];
    cut = truncate_html(html);
    parsed = parse_telegram_html(cut);
    ASSERT_EQ(parsed.error, "") << round;
    ASSERT_TRUE(valid_utf8(cut)) << round;
    ASSERT_LE(utf16_length(parsed.plain), 4096u) << round;
    const auto original = parse_telegram_html(html).plain;
    if (utf16_length(original) <= 4096) {
      ASSERT_EQ(cut, html) << round;
    } else {
      ASSERT_GE(utf16_length(parsed.plain), 4090u) << round;  // not cut needlessly short
      ASSERT_EQ(parsed.plain.substr(parsed.plain.size() - 3), ellipsis) << round;
      auto kept = parsed.plain.substr(0, parsed.plain.size() - 3);
      ASSERT_EQ(original.substr(0, kept.size()), kept) << round;
    }
  }
}

TEST(telegram_text, start_payloads_and_deep_links) {
  EXPECT_EQ(start_payload("/start abc123"), "abc123");
  EXPECT_EQ(start_payload("/start  abc123 \n"), "abc123");
  EXPECT_EQ(start_payload("/start"), "");
  EXPECT_EQ(start_payload("/start@flightwatch_bot abc"), "abc");
  EXPECT_EQ(start_payload("/started"), std::nullopt);
  EXPECT_EQ(start_payload("hello /start x"), std::nullopt);
  EXPECT_EQ(start_payload(""), std::nullopt);
  EXPECT_TRUE(valid_start_payload("a1b2-C_3"));
  EXPECT_FALSE(valid_start_payload(""));
  EXPECT_FALSE(valid_start_payload("a b"));
  EXPECT_FALSE(valid_start_payload(repeat("a", 65)));
  EXPECT_EQ(telegram_deep_link("flightwatch_bot", "abc"), "https://t.me/flightwatch_bot?start=abc");
}

// ---------------------------------------------------------------------------
// sendMessage

TEST(telegram_client, sends_html_with_the_fields_telegram_expects) {
  fake_telegram fake;
  telegram_client client{settings_for(fake)};
  auto r = client.send_message(42, "<b>EDDF</b>: 10 flights");
  ASSERT_EQ(r.status, telegram_status::ok) << r.description;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.message_id, 1);
  EXPECT_EQ(r.description, "");
  EXPECT_GT(r.elapsed.count(), 0);
  EXPECT_EQ(client.send_message(42, "again").message_id, 2);

  auto sent = fake.messages_to(42);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].text, "<b>EDDF</b>: 10 flights");
  EXPECT_EQ(sent[0].plain_text, "EDDF: 10 flights");
  EXPECT_EQ(sent[0].parse_mode, "HTML");
  EXPECT_TRUE(sent[0].disable_web_page_preview);

  // The request itself: POST, JSON, the documented fields with their JSON types.
  auto requests = fake.server().requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/bot" + fake.token() + "/sendMessage");
  EXPECT_EQ(requests[0].headers["content-type"], "application/json");
  EXPECT_EQ(json::parse(requests[0].body),
            json::parse(R"({"chat_id":42,"text":"<b>EDDF</b>: 10 flights",
                            "parse_mode":"HTML","disable_web_page_preview":true})"));
}

TEST(telegram_client, user_text_is_escaped_and_shown_verbatim) {
  fake_telegram fake;
  telegram_client client{settings_for(fake)};
  const std::string user_text = R"(<b>&"'</b>)";
  auto r = client.send_message(7, "<b>Alert</b> for " + html_escape(user_text));
  ASSERT_TRUE(r.ok()) << r.description;
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_EQ(fake.messages()[0].text, "<b>Alert</b> for &lt;b&gt;&amp;&quot;&#39;&lt;/b&gt;");
  EXPECT_EQ(fake.messages()[0].plain_text, "Alert for " + user_text);
}

TEST(telegram_client, long_text_is_cut_to_4096_characters) {
  fake_telegram fake;
  telegram_client client{settings_for(fake)};
  // Multi-byte characters and entities around the boundary.
  const auto html = "<b>" + repeat("\xE2\x82\xAC", 4093) + "</b>&amp;\xC3\xA9\xF0\x9F\x98\x80" +
                    repeat("z", 100);
  auto r = client.send_message(1, html);
  ASSERT_TRUE(r.ok()) << r.description;
  auto sent = fake.messages().at(0);
  EXPECT_EQ(utf16_length(sent.plain_text), 4096u);
  EXPECT_EQ(sent.plain_text,
            repeat("\xE2\x82\xAC", 4093) + "&\xC3\xA9\xE2\x80\xA6");  // € x4093, &, é, …
  EXPECT_EQ(sent.text, "<b>" + repeat("\xE2\x82\xAC", 4093) + "</b>&amp;\xC3\xA9\xE2\x80\xA6");
}

TEST(telegram_client, rate_limit_is_retry_after) {
  fake_telegram fake;
  telegram_client client{settings_for(fake)};
  fake.rate_limit_next(1, 17);
  auto r = client.send_message(1, "x");
  EXPECT_EQ(r.status, telegram_status::retry_after);
  EXPECT_EQ(r.retry_after, 17s);
  EXPECT_EQ(r.http_status, 429);
  EXPECT_EQ(r.description, "Too Many Requests: retry after 17");
  EXPECT_TRUE(client.send_message(1, "x").ok());
  EXPECT_EQ(fake.calls().size(), 2u);
  EXPECT_EQ(fake.messages().size(), 1u);
}

TEST(telegram_client, blocked_bot_and_unknown_chat_are_blocked) {
  fake_telegram fake;
  telegram_client client{settings_for(fake)};
  fake.block_chat(5);
  auto r = client.send_message(5, "x");
  EXPECT_EQ(r.status, telegram_status::blocked);
  EXPECT_EQ(r.http_status, 403);
  EXPECT_EQ(r.description, "Forbidden: bot was blocked by the user");
  fake.remove_chat(6);
  r = client.send_message(6, "x");
  EXPECT_EQ(r.status, telegram_status::blocked);
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.description, "Bad Request: chat not found");
  EXPECT_TRUE(client.send_message(7, "x").ok());
}

TEST(telegram_client, server_errors_are_transient) {
  fake_telegram fake;
  telegram_client client{settings_for(fake)};
  fake.fail_next(1, 500);
  fake.fail_next(1, 502);
  auto r = client.send_message(1, "x");
  EXPECT_EQ(r.status, telegram_status::transient);
  EXPECT_EQ(r.http_status, 500);
  EXPECT_EQ(r.description, "Internal Server Error");
  EXPECT_FALSE(r.timed_out);
  r = client.send_message(1, "x");
  EXPECT_EQ(r.status, telegram_status::transient);
  EXPECT_EQ(r.http_status, 502);
  EXPECT_TRUE(client.send_message(1, "x").ok());
}

TEST(telegram_client, slow_answer_is_a_transient_timeout) {
  fake_telegram fake;
  telegram_client client{settings_for(fake, 300ms)};
  fake.set_delay(2s);
  const auto started = std::chrono::steady_clock::now();
  auto r = client.send_message(1, "x");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
  EXPECT_EQ(r.status, telegram_status::transient);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.description, "no answer within 300 ms");
  EXPECT_GE(r.elapsed, 250ms);
  fake.set_delay(0ms);
  EXPECT_TRUE(client.send_message(1, "x").ok());
}

TEST(telegram_client, unreachable_telegram_is_transient) {
  fake_telegram fake;
  telegram_client client{settings_for(fake)};
  fake.stop();
  auto r = client.send_message(1, "x");
  EXPECT_EQ(r.status, telegram_status::transient);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.description.rfind("Telegram unreachable: ", 0), 0u) << r.description;
  EXPECT_EQ(r.description.find(fake.token()), std::string::npos);
  fake.start();
  EXPECT_TRUE(client.send_message(1, "x").ok());
}

TEST(telegram_client, bad_requests_are_rejected_with_telegrams_description) {
  fake_telegram fake;
  telegram_client client{settings_for(fake)};
  // Unescaped user text: Telegram refuses the markup.
  auto r = client.send_message(1, "<b>Alert</b> <script>");
  EXPECT_EQ(r.status, telegram_status::rejected);
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.description,
            "Bad Request: can't parse entities: Unsupported start tag \"script\" at byte offset 13");
  fake.fail_next(1, 400);
  r = client.send_message(1, "x");
  EXPECT_EQ(r.status, telegram_status::rejected);
  EXPECT_EQ(r.description, "Bad Request: scripted failure");
  // An empty text is refused without a request.
  const auto before = fake.request_count();
  r = client.send_message(1, " \n");
  EXPECT_EQ(r.status, telegram_status::rejected);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.description, "message text is empty");
  EXPECT_EQ(fake.request_count(), before);
}

TEST(telegram_client, the_token_never_leaks) {
  fake_telegram fake;
  const auto token = fake.token();
  std::vector<std::string> texts;

  // Revoked token: 401.
  telegram_client revoked{settings_for(fake)};
  const auto fresh = fake.revoke_token();
  auto r = revoked.send_message(1, "x");
  EXPECT_EQ(r.status, telegram_status::rejected);
  EXPECT_EQ(r.http_status, 401);
  EXPECT_EQ(r.description, "Unauthorized");
  texts.push_back(all_text(r));
  auto me = revoked.get_me();
  EXPECT_EQ(me.status, telegram_status::rejected);
  texts.push_back(all_text(me));
  auto up = revoked.get_updates(0, 0s);
  EXPECT_EQ(up.status, telegram_status::rejected);
  texts.push_back(all_text(up));

  // An unknown token: the server's 404 body quotes the path, token included.
  auto cfg = settings_for(fake);
  cfg.bot_token = "555:secret-never-to-be-seen";
  telegram_client wrong{cfg};
  r = wrong.send_message(1, "x");
  EXPECT_EQ(r.status, telegram_status::rejected);
  EXPECT_EQ(r.http_status, 404);
  EXPECT_NE(r.description.find("/bot<token>/sendMessage"), std::string::npos) << r.description;
  EXPECT_EQ(r.description.find("secret-never"), std::string::npos) << r.description;
  EXPECT_EQ(wrong.scrub("x /bot555:secret-never-to-be-seen/y 555%3Asecret-never-to-be-seen"),
            "x /bot<token>/y <token>");

  // Timeouts and connection errors.
  telegram_client slow{settings_for(fake, 200ms)};  // the new token
  fake.set_delay(1s);
  texts.push_back(all_text(slow.send_message(1, "x")));
  fake.set_delay(0ms);
  fake.stop();
  texts.push_back(all_text(slow.send_message(1, "x")));
  texts.push_back(all_text(slow.get_updates(0, 0s)));
  fake.start();

  // A malformed token is refused without a request (it would change the URL).
  cfg.bot_token = "1:abc/../../x";
  telegram_client malformed{cfg};
  r = malformed.send_message(1, "x");
  EXPECT_EQ(r.status, telegram_status::rejected);
  EXPECT_EQ(r.description, "the bot token is malformed");
  cfg.bot_token = "";
  EXPECT_EQ(telegram_client{cfg}.get_me().description, "no bot token configured");

  for (const auto& t : texts) {
    EXPECT_EQ(t.find(token), std::string::npos) << t;
    EXPECT_EQ(t.find(fresh), std::string::npos) << t;
    EXPECT_EQ(t.find("AAF-fake"), std::string::npos) << t;
  }
  // The new token works.
  cfg = settings_for(fake);
  EXPECT_EQ(cfg.bot_token, fresh);
  EXPECT_TRUE(telegram_client{cfg}.send_message(1, "x").ok());
}

// ---------------------------------------------------------------------------
// getUpdates, getMe

TEST(telegram_client, get_updates_reads_messages_and_confirms_with_the_offset) {
  fake_telegram fake;
  telegram_client client{settings_for(fake)};
  const auto first = fake.push_update(42, "/start abc123", "alice");
  fake.push_raw_update(R"({"edited_message":{"message_id":1,"chat":{"id":42},"text":"x"}})");
  fake.push_update(43, "hello");  // no username
  fake.push_update(-100, "/start@flightwatch_test_bot grp");

  auto r = client.get_updates(0, 0s);
  ASSERT_TRUE(r.ok()) << r.description;
  ASSERT_EQ(r.updates.size(), 4u);
  EXPECT_EQ(r.updates[0].update_id, first);
  EXPECT_TRUE(r.updates[0].has_message);
  EXPECT_EQ(r.updates[0].chat_id, 42);
  EXPECT_EQ(r.updates[0].text, "/start abc123");
  EXPECT_EQ(r.updates[0].username, "alice");
  EXPECT_EQ(start_payload(r.updates[0].text), "abc123");
  EXPECT_FALSE(r.updates[1].has_message);  // other kinds only move the offset
  EXPECT_EQ(r.updates[2].chat_id, 43);
  EXPECT_EQ(r.updates[2].username, std::nullopt);
  EXPECT_EQ(start_payload(r.updates[2].text), std::nullopt);
  EXPECT_EQ(r.updates[3].chat_id, -100);
  EXPECT_EQ(start_payload(r.updates[3].text), "grp");
  EXPECT_EQ(r.next_offset, first + 4);

  // Until confirmed, the same updates come again.
  EXPECT_EQ(client.get_updates(0, 0s).updates.size(), 4u);
  // Passing next_offset confirms them.
  auto again = client.get_updates(r.next_offset, 0s);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.updates.empty());
  EXPECT_EQ(again.next_offset, r.next_offset);
  EXPECT_EQ(fake.pending_updates(), 0u);

  const auto later = fake.push_update(44, "/start zzz", "bob");
  auto third = client.get_updates(again.next_offset, 0s);
  ASSERT_EQ(third.updates.size(), 1u);
  EXPECT_EQ(third.updates[0].update_id, later);
  EXPECT_EQ(third.next_offset, later + 1);

  auto calls = fake.update_calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].offset, 0);
  EXPECT_EQ(calls[2].offset, first + 4);
  EXPECT_EQ(calls[3].returned, 1u);
  // Only new messages are asked for.
  auto body = json::parse(fake.server().requests().back().body);
  EXPECT_EQ(body["allowed_updates"], json::array({"message"}));
}

TEST(telegram_client, get_updates_long_polls_past_the_call_timeout) {
  fake_telegram fake;
  fake.set_long_poll_cap(1200ms);
  // The HTTP timeout is the poll plus the call timeout: a 1 s poll with a 500 ms call
  // timeout still gets its (empty) answer after ~1 s.
  telegram_client client{settings_for(fake, 500ms)};
  const auto started = std::chrono::steady_clock::now();
  auto r = client.get_updates(0, 1s);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(r.ok()) << r.description;
  EXPECT_TRUE(r.updates.empty());
  EXPECT_GE(took, 900ms);
  EXPECT_EQ(fake.update_calls().at(0).timeout, 1);

  // An update that is waiting is answered at once.
  fake.push_update(42, "hi");
  const auto started2 = std::chrono::steady_clock::now();
  r = client.get_updates(0, 1s);
  EXPECT_LT(std::chrono::steady_clock::now() - started2, 500ms);
  EXPECT_EQ(r.updates.size(), 1u);
}

TEST(telegram_client, get_updates_errors_are_classified) {
  fake_telegram fake;
  telegram_client client{settings_for(fake)};
  fake.push_update(42, "hi");
  fake.fail_updates_next(1, 502);
  fake.fail_updates_next(1, 409);
  auto r = client.get_updates(5, 0s);
  EXPECT_EQ(r.status, telegram_status::transient);
  EXPECT_EQ(r.http_status, 502);
  EXPECT_EQ(r.next_offset, 5);  // unchanged: nothing was received
  r = client.get_updates(0, 0s);
  EXPECT_EQ(r.status, telegram_status::rejected);
  EXPECT_EQ(r.http_status, 409);
  EXPECT_EQ(r.description.rfind("Conflict: ", 0), 0u);
  EXPECT_EQ(client.get_updates(0, 0s).updates.size(), 1u);
}

TEST(telegram_client, get_me_names_the_bot) {
  fake_telegram fake;
  fake.set_bot_username("flightwatch_alerts_bot");
  telegram_client client{settings_for(fake)};
  auto me = client.get_me();
  ASSERT_TRUE(me.ok()) << me.description;
  EXPECT_EQ(me.username, "flightwatch_alerts_bot");
  EXPECT_EQ(me.id, 123456789);
  EXPECT_EQ(telegram_deep_link(me.username, "tok"), "https://t.me/flightwatch_alerts_bot?start=tok");
  EXPECT_EQ(fake.server().requests().at(0).method, "GET");
}

TEST(telegram_client, api_url_may_end_in_a_slash) {
  fake_telegram fake;
  auto cfg = settings_for(fake);
  cfg.api_url += "/";
  EXPECT_TRUE(telegram_client{cfg}.get_me().ok());
}

TEST(telegram_client, one_client_per_thread_against_one_fake) {
  fake_telegram fake;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&fake, w] {
      telegram_client client{settings_for(fake)};
      for (int i = 0; i < 10; ++i) EXPECT_TRUE(client.send_message(100 + w, "m").ok());
    });
  }
  EXPECT_TRUE(fake.wait_for_messages(40, 10s));
  for (auto& t : workers) t.join();
  for (int w = 0; w < 4; ++w) {
    auto sent = fake.messages_to(100 + w);
    ASSERT_EQ(sent.size(), 10u);
    EXPECT_EQ(sent.back().message_id, 10);
  }
}

// ---------------------------------------------------------------------------
// Rate limiter

using limiter = telegram_rate_limiter;
const limiter::clock::time_point t0 = limiter::clock::time_point{} + 1000h;

// Checks both limits over every reservation made: (chat, time).
void expect_limits_kept(const std::vector<std::pair<std::int64_t, limiter::clock::time_point>>& all,
                        unsigned per_second = 30) {
  std::map<std::int64_t, std::vector<limiter::clock::time_point>> by_chat;
  std::vector<limiter::clock::time_point> times;
  for (const auto& [chat, t] : all) {
    by_chat[chat].push_back(t);
    times.push_back(t);
  }
  for (auto& [chat, ts] : by_chat) {
    std::sort(ts.begin(), ts.end());
    for (std::size_t i = 1; i < ts.size(); ++i)
      ASSERT_GE(ts[i] - ts[i - 1], chat < 0 ? 3s : 1s) << "chat " << chat;
  }
  std::sort(times.begin(), times.end());
  for (std::size_t i = 0; i + per_second < times.size(); ++i)
    ASSERT_GE(times[i + per_second] - times[i], 1s) << "more than " << per_second
                                                    << " in one second at " << i;
}

TEST(telegram_rate_limiter, one_message_per_second_per_chat) {
  limiter lim;
  EXPECT_EQ(lim.reserve(1, t0), t0);
  EXPECT_EQ(lim.reserve(1, t0), t0 + 1s);
  EXPECT_EQ(lim.reserve(1, t0 + 500ms), t0 + 2s);
  EXPECT_EQ(lim.reserve(2, t0 + 500ms), t0 + 500ms);  // other chats are not held up
  EXPECT_EQ(lim.reserve(1, t0 + 10s), t0 + 10s);
  EXPECT_EQ(lim.reserve(1, t0 + 10s + 999ms), t0 + 11s);
  EXPECT_EQ(lim.reserve(1, t0 + 12s + 1ms), t0 + 12s + 1ms);
  // Groups (negative ids): 20 a minute.
  EXPECT_EQ(lim.reserve(-5, t0 + 20s), t0 + 20s);
  EXPECT_EQ(lim.reserve(-5, t0 + 20s), t0 + 23s);
}

TEST(telegram_rate_limiter, thirty_messages_per_second_overall) {
  limiter lim;
  for (std::int64_t chat = 1; chat <= 30; ++chat) EXPECT_EQ(lim.reserve(chat, t0), t0) << chat;
  EXPECT_EQ(lim.reserve(31, t0), t0 + 1s);  // a burst of 30, then the next second
  EXPECT_EQ(lim.reserve(32, t0 + 500ms), t0 + 1s);
  for (std::int64_t chat = 33; chat <= 60; ++chat) EXPECT_EQ(lim.reserve(chat, t0), t0 + 1s);
  EXPECT_EQ(lim.reserve(61, t0), t0 + 2s);
  EXPECT_EQ(lim.reserve(62, t0 + 5s), t0 + 5s);
}

TEST(telegram_rate_limiter, sliding_window_not_fixed_buckets) {
  limiter lim;
  std::vector<std::pair<std::int64_t, limiter::clock::time_point>> all;
  // 20 at t0, 10 at t0 + 0.6 s: the window is full until t0 + 1 s frees the first 20.
  for (std::int64_t c = 1; c <= 20; ++c) all.emplace_back(c, lim.reserve(c, t0));
  for (std::int64_t c = 21; c <= 30; ++c) all.emplace_back(c, lim.reserve(c, t0 + 600ms));
  EXPECT_EQ(lim.reserve(31, t0 + 700ms), t0 + 1s);
  all.emplace_back(31, t0 + 1s);
  for (std::int64_t c = 32; c <= 50; ++c) all.emplace_back(c, lim.reserve(c, t0 + 1s));
  EXPECT_EQ(all.back().second, t0 + 1s);   // 20 freed at t0 + 1 s
  EXPECT_EQ(lim.reserve(51, t0 + 1s), t0 + 1600ms);  // then the 10 of t0 + 0.6 s
  expect_limits_kept(all);
}

TEST(telegram_rate_limiter, limits_hold_for_any_traffic) {
  std::mt19937 rng{11};
  for (int round = 0; round < 5; ++round) {
    limiter lim;
    std::vector<std::pair<std::int64_t, limiter::clock::time_point>> all;
    auto now = t0;
    for (int i = 0; i < 3000; ++i) {
      now += std::chrono::milliseconds{std::uniform_int_distribution<int>{0, 40}(rng)};
      auto chat = std::uniform_int_distribution<std::int64_t>{-5, 60}(rng);
      if (chat == 0) chat = 61;
      auto t = lim.reserve(chat, now);
      ASSERT_GE(t, now);
      all.emplace_back(chat, t);
    }
    expect_limits_kept(all);
  }
}

TEST(telegram_rate_limiter, slots_are_the_earliest_that_keep_the_limits) {
  // Against a brute-force search over every reservation made so far.
  std::mt19937 rng{5};
  const unsigned per_second = 3;
  limiter lim{limiter::limits{1s, 3s, per_second}};
  std::vector<limiter::clock::time_point> taken;
  std::map<std::int64_t, limiter::clock::time_point> next_for_chat;
  auto keeps_global = [&](limiter::clock::time_point t) {
    auto all = taken;
    all.push_back(t);
    std::sort(all.begin(), all.end());
    for (std::size_t i = 0; i + per_second < all.size(); ++i)
      if (all[i + per_second] - all[i] < 1s) return false;
    return true;
  };
  auto now = t0;
  for (int i = 0; i < 300; ++i) {
    now += std::chrono::milliseconds{std::uniform_int_distribution<int>{0, 400}(rng)};
    const auto chat = std::uniform_int_distribution<std::int64_t>{1, 6}(rng);
    auto expected = now;
    if (auto it = next_for_chat.find(chat); it != next_for_chat.end())
      expected = std::max(expected, it->second);
    // Adding t becomes legal only when t leaves a full window: at the candidate or at
    // some earlier reservation + 1 s. Try those in order.
    std::vector<limiter::clock::time_point> candidates{expected};
    for (auto e : taken)
      if (e + 1s > expected) candidates.push_back(e + 1s);
    std::sort(candidates.begin(), candidates.end());
    expected = *std::find_if(candidates.begin(), candidates.end(), keeps_global);
    ASSERT_EQ(lim.reserve(chat, now), expected) << i;
    taken.push_back(expected);
    next_for_chat[chat] = expected + 1s;
  }
}

TEST(telegram_rate_limiter, holds_delay_one_chat_or_all) {
  limiter lim;
  lim.hold(1, t0 + 17s);  // 429 retry_after 17
  EXPECT_EQ(lim.reserve(1, t0), t0 + 17s);
  EXPECT_EQ(lim.reserve(2, t0), t0);
  lim.hold_all(t0 + 5s);
  EXPECT_EQ(lim.reserve(3, t0), t0 + 5s);
  EXPECT_EQ(lim.reserve(1, t0), t0 + 18s);
  EXPECT_EQ(lim.tracked_chats(), 3u);  // every chat has a future slot
  EXPECT_EQ(lim.reserve(4, t0 + 30s), t0 + 30s);
  EXPECT_EQ(lim.tracked_chats(), 1u);
}

TEST(telegram_rate_limiter, configurable_and_time_never_goes_back) {
  telegram_settings cfg;
  cfg.per_chat_interval = 250ms;
  cfg.global_per_second = 2;
  auto lim_cfg = limiter::limits::from(cfg);
  EXPECT_EQ(lim_cfg.per_chat, 250ms);
  EXPECT_EQ(lim_cfg.global_per_second, 2u);
  limiter lim{lim_cfg};
  EXPECT_EQ(lim.reserve(1, t0), t0);
  EXPECT_EQ(lim.reserve(1, t0), t0 + 250ms);
  EXPECT_EQ(lim.reserve(2, t0), t0 + 1s);
  // An older `now` (another thread read the clock earlier) counts as the latest one.
  EXPECT_EQ(lim.reserve(3, t0 - 10s), t0 + 1250ms);

  limiter unlimited{limiter::limits{0s, 0s, 0}};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(unlimited.reserve(1, t0), t0);
}

TEST(telegram_rate_limiter, shared_by_threads) {
  limiter lim;
  std::mutex mtx;
  std::vector<std::pair<std::int64_t, limiter::clock::time_point>> all;
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 250; ++i) {
        auto chat = static_cast<std::int64_t>(w * 1000 + i % 20 + 1);
        auto t = lim.reserve(chat, t0 + std::chrono::milliseconds{i});
        std::lock_guard guard{mtx};
        all.emplace_back(chat, t);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(all.size(), 1000u);
  expect_limits_kept(all);
  // 1000 messages at 30/s need at least 33 s, and not much more (how much more depends on
  // how the threads interleave).
  auto last = std::max_element(all.begin(), all.end(),
                               [](auto& a, auto& b) { return a.second < b.second; });
  EXPECT_GE(last->second - t0, 33s);
  EXPECT_LE(last->second - t0, 40s);
}

}  // namespace
}  // namespace fw::test
