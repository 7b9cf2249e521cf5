#include "tests/fakes/fake_telegram.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace fw::test {

using json = nlohmann::ordered_json;  // keeps Telegram's field order
using request = scripted_http_server::request;
using response = scripted_http_server::response;
using steady = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Telegram's text rules

namespace {

bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the valid UTF-8 sequence at pos (0 if invalid); cp is its code point.
std::size_t utf8_at(const std::string& s, std::size_t pos, char32_t& cp) {
  auto at = [&](std::size_t i) {
    return pos + i < s.size() ? static_cast<unsigned char>(s[pos + i]) : 0;
  };
  const auto c = at(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF && continuation(at(1))) {
    cp = ((c & 0x1Fu) << 6) | (at(1) & 0x3Fu);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF && continuation(at(1)) && continuation(at(2))) {
    if ((c == 0xE0 && at(1) < 0xA0) || (c == 0xED && at(1) > 0x9F)) return 0;
    cp = ((c & 0x0Fu) << 12) | ((at(1) & 0x3Fu) << 6) | (at(2) & 0x3Fu);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4 && continuation(at(1)) && continuation(at(2)) &&
      continuation(at(3))) {
    if ((c == 0xF0 && at(1) < 0x90) || (c == 0xF4 && at(1) > 0x8F)) return 0;
    cp = ((c & 0x07u) << 18) | ((at(1) & 0x3Fu) << 12) | ((at(2) & 0x3Fu) << 6) |
         (at(3) & 0x3Fu);
    return 4;
  }
  return 0;
}

bool valid_utf8(const std::string& s) {
  for (std::size_t pos = 0; pos < s.size();) {
    char32_t cp = 0;
    auto n = utf8_at(s, pos, cp);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The entity at pos ("&lt;", "&#60;", "&#x3c;"): its length, 0 if there is none.
std::size_t entity_at(const std::string& s, std::size_t pos, char32_t& cp) {
  auto semi = s.find(';', pos);
  if (semi == std::string::npos || semi - pos > 12) return 0;
  auto name = s.substr(pos + 1, semi - pos - 1);
  static const std::map<std::string, char32_t> named{
      {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}};
  if (auto it = named.find(name); it != named.end()) {
    cp = it->second;
    return semi - pos + 1;
  }
  if (name.size() < 2 || name[0] != '#') return 0;
  const bool hex = name[1] == 'x' || name[1] == 'X';
  auto digits = name.substr(hex ? 2 : 1);
  std::uint32_t value = 0;
  auto [end, err] =
      std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
  if (digits.empty() || err != std::errc{} || end != digits.data() + digits.size() ||
      value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
    return 0;
  cp = value;
  return semi - pos + 1;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The position of the '>' ending the tag that starts at pos, outside quoted values.
std::size_t tag_end(const std::string& s, std::size_t pos) {
  char quote = 0;
  for (auto i = pos + 1; i < s.size(); ++i) {
    if (quote) {
      if (s[i] == quote) quote = 0;
    } else if (s[i] == '"' || s[i] == '\'') {
      quote = s[i];
    } else if (s[i] == '>') {
      return i;
    }
  }
  return std::string::npos;
}

}  // namespace

telegram_html parse_telegram_html(const std::string& html) {
  static const std::set<std::string> supported{
      "a",   "b",   "strong", "i",          "em",       "s",    "strike", "del",
      "u",   "ins", "span",   "tg-spoiler", "tg-emoji", "code", "pre",    "blockquote"};
  telegram_html out;
  std::vector<std::string> open;
  for (std::size_t i = 0; i < html.size();) {
    char32_t cp = 0;
    if (html[i] == '&') {
      if (auto n = entity_at(html, i, cp)) {
        append_utf8(out.plain, cp);
        i += n;
        continue;
      }
    }
    if (html[i] != '<') {
      out.plain += html[i++];
      continue;
    }
    const auto begin = std::to_string(i);
    auto gt = tag_end(html, i);
    if (i + 1 < html.size() && html[i + 1] == '/') {
      if (gt == std::string::npos) {
        out.error = "Unclosed end tag at byte offset " + begin;
        return out;
      }
      auto name = html.substr(i + 2, gt - i - 2);
      while (!name.empty() && is_space(name.back())) name.pop_back();
      name = lower(name);
      if (open.empty()) {
        out.error = "Unexpected end tag at byte offset " + begin;
        return out;
      }
      if (name != open.back()) {
        out.error = "Unmatched end tag at byte offset " + begin + ", expected \"</" +
                    open.back() + ">\", found \"</" + name + ">\"";
        return out;
      }
      open.pop_back();
      i = gt + 1;
      continue;
    }
    auto j = i + 1;
    while (j < html.size() && !is_space(html[j]) && html[j] != '>' && html[j] != '/') ++j;
    auto name = lower(html.substr(i + 1, j - i - 1));
    if (j == html.size() || gt == std::string::npos) {
      out.error = "Unclosed start tag at byte offset " + begin;
      return out;
    }
    if (!supported.count(name)) {
      out.error = "Unsupported start tag \"" + name + "\" at byte offset " + begin;
      return out;
    }
    open.push_back(name);
    i = gt + 1;
  }
  if (!open.empty()) {
    out.error = "Can't find end tag corresponding to start tag \"" + open.back() + "\"";
    out.plain.clear();
  }
  return out;
}

std::size_t utf16_length(const std::string& text) {
  std::size_t units = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    char32_t cp = 0;
    auto n = utf8_at(text, pos, cp);
    units += n == 0 ? 1 : (cp >= 0x10000 ? 2 : 1);
    pos += std::max<std::size_t>(n, 1);
  }
  return units;
}

// ---------------------------------------------------------------------------
// Wire format

namespace {

std::string percent_decode(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() &&
               std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// The call's parameters: query, then a JSON or form body. Throws on a malformed JSON body.
json params_of(const request& req) {
  json p = json::object();
  for (const auto& [k, v] : req.query) p[k] = v;
  std::string type;
  if (auto it = req.headers.find("content-type"); it != req.headers.end())
    type = lower(it->second);
  if (req.body.empty()) return p;
  if (type.rfind("application/json", 0) == 0) {
    auto body = json::parse(req.body);  // throws: answered 400 by the caller
    if (!body.is_object()) throw std::runtime_error("JSON body is not an object");
    for (auto& [k, v] : body.items()) p[k] = v;
  } else if (type.rfind("application/x-www-form-urlencoded", 0) == 0) {
    std::stringstream ss{req.body};
    for (std::string pair; std::getline(ss, pair, '&');) {
      if (pair.empty()) continue;
      auto eq = pair.find('=');
      p[percent_decode(pair.substr(0, eq))] =
          eq == std::string::npos ? "" : percent_decode(pair.substr(eq + 1));
    }
  }
  return p;
}

std::optional<std::int64_t> int_param(const json& p, const char* key) {
  auto it = p.find(key);
  if (it == p.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (!it->is_string()) return std::nullopt;
  const auto& s = it->get_ref<const std::string&>();
  std::int64_t value = 0;
  auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || err != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::string string_param(const json& p, const char* key) {
  auto it = p.find(key);
  if (it == p.end()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

bool bool_param(const json& p, const char* key) {
  auto it = p.find(key);
  if (it == p.end()) return false;
  if (it->is_boolean()) return it->get<bool>();
  auto s = lower(string_param(p, key));
  return s == "true" || s == "1";
}

std::string describe(unsigned status) {
  switch (status) {
    case 400: return "Bad Request: scripted failure";
    case 401: return "Unauthorized";
    case 403: return "Forbidden: scripted failure";
    case 404: return "Not Found";
    case 409:
      return "Conflict: terminated by other getUpdates request; make sure that only one bot "
             "instance is running";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error " + std::to_string(status);
  }
}

response error_response(unsigned status, const std::string& description) {
  json j;
  j["ok"] = false;
  j["error_code"] = status;
  j["description"] = description;
  return {status, j.dump()};
}

response rate_limited(long retry_after) {
  json j;
  j["ok"] = false;
  j["error_code"] = 429;
  j["description"] = "Too Many Requests: retry after " + std::to_string(retry_after);
  j["parameters"] = {{"retry_after", retry_after}};
  return response{429, j.dump()}.with_header("Retry-After", std::to_string(retry_after));
}

response ok_response(json result) {
  json j;
  j["ok"] = true;
  j["result"] = std::move(result);
  return {200, j.dump()};
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t bot_id_of(const std::string& token) {
  std::int64_t id = 0;
  std::from_chars(token.data(), token.data() + token.size(), id);
  return id;
}

}  // namespace

// ---------------------------------------------------------------------------
// The fake

struct fake_telegram::state {
  struct scripted_failure {
    unsigned status = 500;
    long retry_after = 0;
  };

  mutable std::mutex mutex;
  mutable std::condition_variable delivered_cv;

  std::string token;
  std::set<std::string> served_tokens;  // every token with handlers
  std::string bot_username = "flightwatch_test_bot";
  std::deque<scripted_failure> failures;
  std::deque<unsigned> update_failures;
  std::set<std::int64_t> blocked;
  std::set<std::int64_t> removed;
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds long_poll_cap{200};

  std::map<std::int64_t, std::int64_t> last_message_id;  // per chat, as Telegram numbers
  std::deque<json> updates;                              // by update_id, not yet confirmed
  std::int64_t last_update_id = 700000000;
  std::int64_t incoming_message_id = 0;

  std::vector<sent_message> sent;
  std::size_t delivered = 0;
  std::vector<updates_call> polls;

  response send_message(const request& req);
  response get_updates(const request& req);
  response get_me();
  std::int64_t push(json update);
};

response fake_telegram::state::send_message(const request& req) {
  sent_message rec;
  rec.time = steady::now();
  json p;
  bool malformed = false;
  try {
    p = params_of(req);
  } catch (const std::exception&) {
    malformed = true;
  }
  if (!malformed) {
    rec.chat_id = int_param(p, "chat_id").value_or(0);
    rec.text = string_param(p, "text");
    rec.parse_mode = string_param(p, "parse_mode");
    rec.disable_web_page_preview = bool_param(p, "disable_web_page_preview");
  }

  std::lock_guard lock{mutex};
  std::string plain;
  auto answer = [&]() -> response {
    if (!failures.empty()) {
      auto f = failures.front();
      failures.pop_front();
      if (f.status == 429) return rate_limited(f.retry_after);
      return error_response(f.status, describe(f.status));
    }
    if (malformed) return error_response(400, "Bad Request: can't parse JSON body");
    if (rec.chat_id == 0) return error_response(400, "Bad Request: chat_id is empty");
    if (blocked.count(rec.chat_id))
      return error_response(403, "Forbidden: bot was blocked by the user");
    if (removed.count(rec.chat_id)) return error_response(400, "Bad Request: chat not found");
    if (!valid_utf8(rec.text))
      return error_response(400, "Bad Request: strings must be encoded in UTF-8");
    const auto mode = lower(rec.parse_mode);
    if (mode == "html") {
      auto parsed = parse_telegram_html(rec.text);
      if (!parsed.error.empty())
        return error_response(400, "Bad Request: can't parse entities: " + parsed.error);
      plain = std::move(parsed.plain);
    } else if (mode.empty() || mode == "markdown" || mode == "markdownv2") {
      plain = rec.text;  // Markdown is not checked
    } else {
      return error_response(400, "Bad Request: unsupported parse_mode");
    }
    if (std::all_of(plain.begin(), plain.end(), is_space))
      return error_response(400, "Bad Request: message text is empty");
    if (utf16_length(plain) > 4096) return error_response(400, "Bad Request: message is too long");
    rec.message_id = ++last_message_id[rec.chat_id];
    json result;
    result["message_id"] = rec.message_id;
    result["from"] = {{"id", bot_id_of(token)},
                      {"is_bot", true},
                      {"first_name", "Flightwatch Test"},
                      {"username", bot_username}};
    result["chat"] = rec.chat_id > 0 ? json{{"id", rec.chat_id},
                                            {"first_name", "Test"},
                                            {"type", "private"}}
                                     : json{{"id", rec.chat_id},
                                            {"title", "Test group"},
                                            {"type", "group"}};
    result["date"] = unix_now();
    result["text"] = plain;
    return ok_response(std::move(result));
  };
  auto out = answer();
  out.with_delay(delay);
  rec.status = out.status;
  if (out.status == 200) {
    rec.plain_text = std::move(plain);
    ++delivered;
  } else {
    rec.description = json::parse(out.body).value("description", "");
  }
  sent.push_back(std::move(rec));
  delivered_cv.notify_all();
  return out;
}

response fake_telegram::state::get_updates(const request& req) {
  updates_call rec;
  rec.time = steady::now();
  json p;
  bool malformed = false;
  try {
    p = params_of(req);
  } catch (const std::exception&) {
    malformed = true;
  }
  rec.offset = malformed ? 0 : int_param(p, "offset").value_or(0);
  rec.timeout = malformed ? 0 : std::max<std::int64_t>(int_param(p, "timeout").value_or(0), 0);
  const auto limit =
      malformed ? 100 : std::clamp<std::int64_t>(int_param(p, "limit").value_or(100), 1, 100);

  std::lock_guard lock{mutex};
  auto answer = [&]() -> response {
    if (!update_failures.empty()) {
      auto status = update_failures.front();
      update_failures.pop_front();
      return error_response(status, describe(status));
    }
    if (malformed) return error_response(400, "Bad Request: can't parse JSON body");
    // An offset confirms every update below it; a negative one keeps the last -offset.
    if (rec.offset > 0) {
      while (!updates.empty() && updates.front()["update_id"].get<std::int64_t>() < rec.offset)
        updates.pop_front();
    } else if (rec.offset < 0) {
      while (updates.size() > static_cast<std::size_t>(-rec.offset)) updates.pop_front();
    }
    json result = json::array();
    for (const auto& u : updates) {
      if (static_cast<std::int64_t>(result.size()) == limit) break;
      result.push_back(u);
    }
    rec.returned = result.size();
    auto out = ok_response(std::move(result));
    if (rec.returned == 0 && rec.timeout > 0)
      out.with_delay(std::min<std::chrono::milliseconds>(std::chrono::seconds{rec.timeout},
                                                         long_poll_cap));
    return out;
  };
  auto out = answer();
  rec.status = out.status;
  polls.push_back(rec);
  return out;
}

response fake_telegram::state::get_me() {
  std::lock_guard lock{mutex};
  json result;
  result["id"] = bot_id_of(token);
  result["is_bot"] = true;
  result["first_name"] = "Flightwatch Test";
  result["username"] = bot_username;
  result["can_join_groups"] = true;
  result["can_read_all_group_messages"] = false;
  result["supports_inline_queries"] = false;
  return ok_response(std::move(result)).with_delay(delay);
}

std::int64_t fake_telegram::state::push(json update) {
  std::lock_guard lock{mutex};
  json u;
  u["update_id"] = ++last_update_id;
  for (auto& [k, v] : update.items()) u[k] = v;
  updates.push_back(std::move(u));
  return last_update_id;
}

fake_telegram::fake_telegram(std::string token, std::uint16_t port)
    : state_{std::make_shared<state>()}, server_{port} {
  state_->token = token;
  serve_token(token);
}

fake_telegram::~fake_telegram() = default;

void fake_telegram::serve_token(const std::string& token) {
  {
    std::lock_guard lock{state_->mutex};
    if (!state_->served_tokens.insert(token).second) return;
  }
  auto* s = state_.get();  // server_ is destroyed (and stopped) before state_
  auto guarded = [s, token](auto serve) {
    return [s, token, serve](const request& req) -> response {
      {
        std::lock_guard lock{s->mutex};
        if (token != s->token) return error_response(401, "Unauthorized");
      }
      return serve(req);
    };
  };
  const auto base = "/bot" + token + "/";
  for (const char* method : {"GET", "POST"}) {
    server_.on(method, base + "sendMessage",
               guarded([s](const request& req) { return s->send_message(req); }));
    server_.on(method, base + "getUpdates",
               guarded([s](const request& req) { return s->get_updates(req); }));
    server_.on(method, base + "getMe", guarded([s](const request&) { return s->get_me(); }));
  }
}

std::string fake_telegram::url() const { return server_.url(); }
std::uint16_t fake_telegram::port() const { return server_.port(); }

std::string fake_telegram::token() const {
  std::lock_guard lock{state_->mutex};
  return state_->token;
}

std::string fake_telegram::bot_username() const {
  std::lock_guard lock{state_->mutex};
  return state_->bot_username;
}

void fake_telegram::set_bot_username(std::string username) {
  std::lock_guard lock{state_->mutex};
  state_->bot_username = std::move(username);
}

void fake_telegram::add_invalid_token(const std::string& token) { serve_token(token); }

std::string fake_telegram::revoke_token() {
  std::string fresh;
  {
    std::lock_guard lock{state_->mutex};
    auto id = bot_id_of(state_->token);
    fresh = std::to_string(id) + ":AAF-revoked_" + std::to_string(state_->served_tokens.size()) +
            "_fresh_token_for_tests";
    state_->token = fresh;
  }
  serve_token(fresh);
  return fresh;
}

void fake_telegram::fail_next(std::size_t n, unsigned status) {
  std::lock_guard lock{state_->mutex};
  for (std::size_t i = 0; i < n; ++i) state_->failures.push_back({status, 0});
}

void fake_telegram::rate_limit_next(std::size_t n, long retry_after_seconds) {
  std::lock_guard lock{state_->mutex};
  for (std::size_t i = 0; i < n; ++i) state_->failures.push_back({429, retry_after_seconds});
}

void fake_telegram::clear_scripted_failures() {
  std::lock_guard lock{state_->mutex};
  state_->failures.clear();
  state_->update_failures.clear();
}

void fake_telegram::block_chat(std::int64_t chat_id) {
  std::lock_guard lock{state_->mutex};
  state_->blocked.insert(chat_id);
}

void fake_telegram::unblock_chat(std::int64_t chat_id) {
  std::lock_guard lock{state_->mutex};
  state_->blocked.erase(chat_id);
}

void fake_telegram::remove_chat(std::int64_t chat_id) {
  std::lock_guard lock{state_->mutex};
  state_->removed.insert(chat_id);
}

void fake_telegram::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock{state_->mutex};
  state_->delay = delay;
}

void fake_telegram::fail_updates_next(std::size_t n, unsigned status) {
  std::lock_guard lock{state_->mutex};
  for (std::size_t i = 0; i < n; ++i) state_->update_failures.push_back(status);
}

std::int64_t fake_telegram::push_update(std::int64_t chat_id, std::string text,
                                        std::optional<std::string> username) {
  const std::int64_t user_id = chat_id > 0 ? chat_id : 1000;
  json from;
  from["id"] = user_id;
  from["is_bot"] = false;
  from["first_name"] = "Test";
  if (username) from["username"] = *username;
  from["language_code"] = "en";
  json chat;
  chat["id"] = chat_id;
  if (chat_id > 0) {
    chat["first_name"] = "Test";
    if (username) chat["username"] = *username;
    chat["type"] = "private";
  } else {
    chat["title"] = "Test group";
    chat["type"] = "group";
  }
  json message;
  {
    std::lock_guard lock{state_->mutex};
    message["message_id"] = ++state_->incoming_message_id;
  }
  message["from"] = std::move(from);
  message["chat"] = std::move(chat);
  message["date"] = unix_now();
  message["text"] = text;
  if (!text.empty() && text[0] == '/') {
    auto command = text.substr(0, text.find_first_of(" \n"));
    message["entities"] = json::array(
        {{{"offset", 0}, {"length", utf16_length(command)}, {"type", "bot_command"}}});
  }
  return state_->push(json{{"message", std::move(message)}});
}

std::int64_t fake_telegram::push_raw_update(const std::string& update_json) {
  return state_->push(json::parse(update_json));
}

std::size_t fake_telegram::pending_updates() const {
  std::lock_guard lock{state_->mutex};
  return state_->updates.size();
}

void fake_telegram::set_long_poll_cap(std::chrono::milliseconds cap) {
  std::lock_guard lock{state_->mutex};
  state_->long_poll_cap = cap;
}

void fake_telegram::stop() { server_.stop(); }
void fake_telegram::start() { server_.start(); }
bool fake_telegram::running() const { return server_.running(); }

std::vector<fake_telegram::sent_message> fake_telegram::calls() const {
  std::lock_guard lock{state_->mutex};
  return state_->sent;
}

std::vector<fake_telegram::sent_message> fake_telegram::messages() const {
  std::lock_guard lock{state_->mutex};
  std::vector<sent_message> out;
  for (const auto& m : state_->sent)
    if (m.status == 200) out.push_back(m);
  return out;
}

std::vector<fake_telegram::sent_message> fake_telegram::messages_to(std::int64_t chat_id) const {
  std::lock_guard lock{state_->mutex};
  std::vector<sent_message> out;
  for (const auto& m : state_->sent)
    if (m.status == 200 && m.chat_id == chat_id) out.push_back(m);
  return out;
}

bool fake_telegram::wait_for_messages(std::size_t count,
                                      std::chrono::milliseconds timeout) const {
  std::unique_lock lock{state_->mutex};
  return state_->delivered_cv.wait_for(lock, timeout,
                                       [&] { return state_->delivered >= count; });
}

std::vector<fake_telegram::updates_call> fake_telegram::update_calls() const {
  std::lock_guard lock{state_->mutex};
  return state_->polls;
}

std::size_t fake_telegram::request_count() const { return server_.request_count(); }

void fake_telegram::clear_requests() {
  server_.clear();
  std::lock_guard lock{state_->mutex};
  state_->sent.clear();
  state_->delivered = 0;
  state_->polls.clear();
}

scripted_http_server& fake_telegram::server() { return server_; }

}  // namespace fw::test
