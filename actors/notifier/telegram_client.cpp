#include "actors/notifier/telegram_client.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace fw {

namespace {

using json = nlohmann::json;

// --- Telegram HTML, read the way Telegram reads it ----------------------------------------

/// One piece of Telegram HTML: a visible character (a UTF-8 sequence or an entity) or a tag.
struct html_piece {
  enum kind_t { character, open_tag, close_tag } kind = character;
  std::size_t end = 0;   // one past its last byte
  std::size_t units = 0; // UTF-16 code units a character counts (tags: 0)
  std::string tag;       // lower-case tag name
};

bool continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

/// Length of the valid UTF-8 sequence at `pos` (0 if invalid) and its code point.
std::size_t utf8_sequence(std::string_view s, std::size_t pos, char32_t& cp) {
  const auto c = static_cast<unsigned char>(s[pos]);
  const auto at = [&](std::size_t i) {
    return pos + i < s.size() ? static_cast<unsigned char>(s[pos + i]) : 0;
  };
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF && continuation(at(1))) {
    cp = ((c & 0x1Fu) << 6) | (at(1) & 0x3Fu);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF && continuation(at(1)) && continuation(at(2))) {
    if ((c == 0xE0 && at(1) < 0xA0) || (c == 0xED && at(1) > 0x9F))
      return 0; // overlong, surrogate
    cp = ((c & 0x0Fu) << 12) | ((at(1) & 0x3Fu) << 6) | (at(2) & 0x3Fu);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4 && continuation(at(1)) && continuation(at(2))
      && continuation(at(3))) {
    if ((c == 0xF0 && at(1) < 0x90) || (c == 0xF4 && at(1) > 0x8F))
      return 0; // overlong, beyond U+10FFFF
    cp = ((c & 0x07u) << 18) | ((at(1) & 0x3Fu) << 12) | ((at(2) & 0x3Fu) << 6)
         | (at(3) & 0x3Fu);
    return 4;
  }
  return 0;
}

/// Length of the entity at `pos` ("&amp;", "&#38;", "&#x26;") or 0 if there is none there
/// (Telegram then reads the "&" as itself); `cp` is the character it stands for.
std::size_t html_entity(std::string_view s, std::size_t pos, char32_t& cp) {
  constexpr std::size_t longest = 12; // "&#x0010FFFF;"
  auto semi = s.find(';', pos);
  if (semi == std::string_view::npos || semi - pos > longest)
    return 0;
  auto name = s.substr(pos + 1, semi - pos - 1);
  if (name == "lt")
    cp = '<';
  else if (name == "gt")
    cp = '>';
  else if (name == "amp")
    cp = '&';
  else if (name == "quot")
    cp = '"';
  else if (name.size() >= 2 && name[0] == '#') {
    const bool hex = name[1] == 'x' || name[1] == 'X';
    auto digits = name.substr(hex ? 2 : 1);
    std::uint32_t value = 0;
    auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), value,
                                      hex ? 16 : 10);
    if (digits.empty() || err != std::errc{} || end != digits.data() + digits.size()
        || value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
      return 0;
    cp = value;
  } else {
    return 0;
  }
  return semi - pos + 1;
}

std::size_t utf16_units(char32_t cp) {
  return cp >= 0x10000 ? 2 : 1;
}

html_piece next_piece(std::string_view s, std::size_t pos) {
  html_piece p;
  char32_t cp = 0;
  if (s[pos] == '<') {
    // A tag runs to the next '>' outside quoted attribute values.
    char quote = 0;
    std::size_t i = pos + 1;
    for (; i < s.size(); ++i) {
      if (quote) {
        if (s[i] == quote)
          quote = 0;
      } else if (s[i] == '"' || s[i] == '\'') {
        quote = s[i];
      } else if (s[i] == '>') {
        break;
      }
    }
    if (i < s.size()) {
      auto name_at = pos + 1;
      p.kind = html_piece::open_tag;
      if (s[name_at] == '/') {
        p.kind = html_piece::close_tag;
        ++name_at;
      }
      for (auto j = name_at; j < i && !std::isspace(static_cast<unsigned char>(s[j]))
                             && s[j] != '/';
           ++j)
        p.tag += static_cast<char>(std::tolower(static_cast<unsigned char>(s[j])));
      p.end = i + 1;
      return p;
    }
    // No end: not a tag (Telegram would refuse it); counted as a character.
  } else if (s[pos] == '&') {
    if (auto n = html_entity(s, pos, cp)) {
      p.end = pos + n;
      p.units = utf16_units(cp);
      return p;
    }
  }
  auto n = utf8_sequence(s, pos, cp);
  p.end = pos + std::max<std::size_t>(n, 1); // an invalid byte stands alone
  p.units = n ? utf16_units(cp) : 1;
  return p;
}

constexpr std::string_view ellipsis = "\u2026"; // one UTF-16 code unit

// --- answers ------------------------------------------------------------------------------

/// At most `max` bytes of `s`, cut on a UTF-8 boundary, on one line.
std::string snippet(std::string_view s, std::size_t max = 200) {
  std::string out;
  for (std::size_t pos = 0; pos < s.size();) {
    char32_t cp = 0;
    auto n = std::max<std::size_t>(utf8_sequence(s, pos, cp), 1);
    if (out.size() + n > max) {
      out += "...";
      break;
    }
    for (auto i = pos; i < pos + n; ++i)
      out += (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') ? ' ' : s[i];
    pos += n;
  }
  return out;
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a))
                                 == std::tolower(static_cast<unsigned char>(b));
                        });
  return it != haystack.end();
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '_' || c == '-';
}

/// Telegram's retry_after (parameters.retry_after, else the Retry-After header); >= 1 s.
std::chrono::seconds retry_after_of(const json& j, const http_reply& reply) {
  std::int64_t seconds = 0;
  if (j.is_object()) {
    auto params = j.find("parameters");
    if (params != j.end() && params->is_object()) {
      auto ra = params->find("retry_after");
      if (ra != params->end() && ra->is_number())
        seconds = ra->get<std::int64_t>();
    }
  }
  if (seconds <= 0) {
    if (auto h = reply.headers.find("retry-after"); h != reply.headers.end())
      std::from_chars(h->second.data(), h->second.data() + h->second.size(), seconds);
  }
  return std::chrono::seconds{std::max<std::int64_t>(seconds, 1)};
}

} // namespace

// --- message text -------------------------------------------------------------------------

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::size_t telegram_text_length(std::string_view html) {
  std::size_t units = 0;
  for (std::size_t pos = 0; pos < html.size();) {
    auto p = next_piece(html, pos);
    units += p.units;
    pos = p.end;
  }
  return units;
}

std::string truncate_html(std::string_view html, std::size_t max_length) {
  if (telegram_text_length(html) <= max_length)
    return std::string{html};
  if (max_length == 0)
    return {};
  const auto budget = max_length - 1; // the ellipsis
  std::vector<std::string> open;
  std::size_t units = 0;
  std::size_t cut = 0;
  for (std::size_t pos = 0; pos < html.size();) {
    auto p = next_piece(html, pos);
    if (p.kind == html_piece::character) {
      if (units + p.units > budget)
        break;
      units += p.units;
    } else if (p.kind == html_piece::open_tag) {
      open.push_back(p.tag);
    } else if (auto it = std::find(open.rbegin(), open.rend(), p.tag); it != open.rend()) {
      open.erase(std::next(it).base());
    }
    pos = cut = p.end;
  }
  std::string out{html.substr(0, cut)};
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n'))
    out.pop_back();
  out += ellipsis;
  for (auto it = open.rbegin(); it != open.rend(); ++it)
    out += "</" + *it + ">";
  return out;
}

// --- deep links ---------------------------------------------------------------------------

bool valid_start_payload(std::string_view payload) {
  return !payload.empty() && payload.size() <= 64
         && std::all_of(payload.begin(), payload.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
            });
}

std::string telegram_deep_link(std::string_view bot_username, std::string_view payload) {
  std::string out = "https://t.me/";
  out += bot_username;
  out += "?start=";
  out += payload;
  return out;
}

std::optional<std::string> start_payload(std::string_view text) {
  constexpr std::string_view command = "/start";
  auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  if (text.substr(0, command.size()) != command)
    return std::nullopt;
  auto rest = text.substr(command.size());
  if (!rest.empty() && rest.front() == '@') { // "/start@flightwatch_bot <payload>"
    auto end = std::find_if(rest.begin(), rest.end(), is_blank);
    rest.remove_prefix(static_cast<std::size_t>(end - rest.begin()));
  } else if (!rest.empty() && !is_blank(rest.front())) {
    return std::nullopt; // "/started"
  }
  while (!rest.empty() && is_blank(rest.front()))
    rest.remove_prefix(1);
  while (!rest.empty() && is_blank(rest.back()))
    rest.remove_suffix(1);
  return std::string{rest};
}

// --- results ------------------------------------------------------------------------------

const char* to_string(telegram_status status) {
  switch (status) {
    case telegram_status::ok:
      return "ok";
    case telegram_status::retry_after:
      return "retry_after";
    case telegram_status::blocked:
      return "blocked";
    case telegram_status::transient:
      return "transient";
    case telegram_status::rejected:
      return "rejected";
  }
  return "unknown";
}

// --- client -------------------------------------------------------------------------------

telegram_client::telegram_client(const telegram_settings& cfg)
  : api_url_(cfg.api_url), token_(cfg.bot_token), timeout_(cfg.timeout) {
  while (!api_url_.empty() && api_url_.back() == '/')
    api_url_.pop_back();
  token_usable_ = !token_.empty() && std::all_of(token_.begin(), token_.end(), token_char);
  if (!token_.empty())
    token_escaped_ = http_client::escape(token_);
}

std::string telegram_client::scrub(std::string_view text) const {
  std::string out{text};
  for (const auto* secret : {&token_, &token_escaped_}) {
    if (secret->empty())
      continue;
    for (auto at = out.find(*secret); at != std::string::npos;
         at = out.find(*secret, at + 7))
      out.replace(at, secret->size(), "<token>");
  }
  return out;
}

telegram_outcome telegram_client::call(const char* http_method, const char* api_method,
                                       const std::string& json_body,
                                       std::chrono::milliseconds timeout, json& result) {
  telegram_outcome out;
  if (!token_usable_) {
    out.status = telegram_status::rejected;
    out.description = token_.empty() ? "no bot token configured" : "the bot token is malformed";
    return out;
  }
  std::vector<std::string> headers{"Accept: application/json"};
  if (!json_body.empty())
    headers.emplace_back("Content-Type: application/json");
  auto reply = http_.request(http_method, api_url_ + "/bot" + token_ + "/" + api_method,
                             headers, json_body, timeout);
  out.elapsed = reply.elapsed;
  out.http_status = reply.status;
  if (reply.status == 0) {
    out.status = telegram_status::transient;
    out.timed_out = reply.timed_out;
    out.description = reply.timed_out ? "no answer within " + std::to_string(timeout.count())
                                          + " ms"
                                      : "Telegram unreachable: " + scrub(reply.error);
    return out;
  }
  auto j = json::parse(reply.body, nullptr, false);
  std::string description;
  if (j.is_object()) {
    if (auto d = j.find("description"); d != j.end() && d->is_string())
      description = d->get<std::string>();
  }
  long code = reply.status;
  if (code == 200) {
    auto ok = j.is_object() ? j.find("ok") : j.end();
    auto res = j.is_object() ? j.find("result") : j.end();
    if (ok != j.end() && ok->is_boolean() && ok->get<bool>() && res != j.end()) {
      out.status = telegram_status::ok;
      result = std::move(*res);
      return out;
    }
    auto error_code = j.is_object() ? j.find("error_code") : j.end();
    if (error_code == j.end() || !error_code->is_number_integer()) {
      out.status = telegram_status::transient;
      out.description = "malformed answer (HTTP 200): " + snippet(scrub(reply.body));
      return out;
    }
    code = error_code->get<long>(); // {"ok":false,...} on a 200
  }
  out.description = scrub(description);
  if (out.description.empty()) {
    out.description = "HTTP " + std::to_string(reply.status);
    if (!reply.body.empty())
      out.description += ": " + snippet(scrub(reply.body));
  }
  if (code == 429) {
    out.status = telegram_status::retry_after;
    out.retry_after = retry_after_of(j, reply);
  } else if (code == 403 || (code == 400 && contains_ci(description, "chat not found"))) {
    out.status = telegram_status::blocked;
  } else if (code >= 500) {
    out.status = telegram_status::transient;
  } else if (code >= 300) {
    out.status = telegram_status::rejected; // 4xx, and redirects (a wrong api_url)
  } else {
    out.status = telegram_status::transient;
  }
  return out;
}

telegram_send_result telegram_client::send_message(std::int64_t chat_id,
                                                   std::string_view html) {
  telegram_send_result r;
  auto text = truncate_html(html);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    r.status = telegram_status::rejected;
    r.description = "message text is empty";
    return r;
  }
  json body{{"chat_id", chat_id},
            {"text", std::move(text)},
            {"parse_mode", "HTML"},
            {"disable_web_page_preview", true}};
  json result;
  // Invalid UTF-8 becomes U+FFFD instead of an exception.
  static_cast<telegram_outcome&>(r) =
    call("POST", "sendMessage", body.dump(-1, ' ', false, json::error_handler_t::replace),
         timeout_, result);
  if (r.ok() && result.is_object()) {
    if (auto id = result.find("message_id"); id != result.end() && id->is_number_integer())
      r.message_id = id->get<std::int64_t>();
  }
  return r;
}

telegram_updates_result telegram_client::get_updates(std::int64_t offset,
                                                     std::chrono::seconds poll_timeout) {
  telegram_updates_result r;
  r.next_offset = offset;
  poll_timeout = std::max(poll_timeout, std::chrono::seconds{0});
  json body{{"offset", offset},
            {"timeout", poll_timeout.count()},
            {"allowed_updates", json::array({"message"})}};
  json result;
  static_cast<telegram_outcome&>(r) =
    call("POST", "getUpdates", body.dump(), timeout_ + poll_timeout, result);
  if (!r.ok())
    return r;
  try {
    if (!result.is_array())
      throw std::runtime_error("result is not an array");
    for (const auto& u : result) {
      telegram_update x;
      x.update_id = u.at("update_id").get<std::int64_t>();
      if (auto m = u.find("message"); m != u.end() && m->is_object()) {
        x.has_message = true;
        x.chat_id = m->at("chat").at("id").get<std::int64_t>();
        if (auto t = m->find("text"); t != m->end() && t->is_string())
          x.text = t->get<std::string>();
        if (auto from = m->find("from"); from != m->end() && from->is_object()) {
          if (auto name = from->find("username"); name != from->end() && name->is_string())
            x.username = name->get<std::string>();
        }
      }
      r.next_offset = std::max(r.next_offset, x.update_id + 1);
      r.updates.push_back(std::move(x));
    }
  } catch (const std::exception&) {
    // json's messages may quote the answer: the token never gets a chance to ride along.
    r.status = telegram_status::transient;
    r.description = "malformed getUpdates answer";
    r.updates.clear();
    r.next_offset = offset;
    return r;
  }
  std::sort(r.updates.begin(), r.updates.end(),
            [](const auto& a, const auto& b) { return a.update_id < b.update_id; });
  return r;
}

telegram_me_result telegram_client::get_me() {
  telegram_me_result r;
  json result;
  static_cast<telegram_outcome&>(r) = call("GET", "getMe", {}, timeout_, result);
  if (!r.ok())
    return r;
  auto id = result.is_object() ? result.find("id") : result.end();
  auto name = result.is_object() ? result.find("username") : result.end();
  if (id == result.end() || !id->is_number_integer() || name == result.end()
      || !name->is_string()) {
    r.status = telegram_status::transient;
    r.description = "malformed getMe answer";
    return r;
  }
  r.id = id->get<std::int64_t>();
  r.username = name->get<std::string>();
  return r;
}

// --- rate limiter -------------------------------------------------------------------------

namespace {

constexpr telegram_rate_limiter::clock::duration one_second = std::chrono::seconds{1};

} // namespace

telegram_rate_limiter::limits telegram_rate_limiter::limits::from(const telegram_settings& cfg) {
  limits lim;
  lim.per_chat = cfg.per_chat_interval;
  lim.global_per_second = cfg.global_per_second;
  return lim;
}

telegram_rate_limiter::telegram_rate_limiter(limits lim) : limits_(lim) {
}

telegram_rate_limiter::clock::time_point
telegram_rate_limiter::fit_global(clock::time_point from) const {
  const std::size_t n = limits_.global_per_second;
  if (n == 0)
    return from;
  // One more send at t breaks the limit iff n reservations and t fit in one window of a
  // second: some n consecutive reservations e_i..e_{i+n-1} with max(t, e_last) -
  // min(t, e_first) < 1 s. Then nothing before e_first + 1 s works: jump there, look again.
  auto t = from;
  std::vector<clock::time_point> near;
  for (;;) {
    near.assign(recent_.upper_bound(t - one_second), recent_.lower_bound(t + one_second));
    auto next = t;
    for (std::size_t i = 0; i + n <= near.size(); ++i) {
      auto first = near[i];
      auto last = near[i + n - 1];
      if (std::max(t, last) - std::min(t, first) < one_second)
        next = std::max(next, first + one_second);
    }
    if (next == t)
      return t;
    t = next;
  }
}

void telegram_rate_limiter::forget_before(clock::time_point now) {
  // A reservation a second or more before `now` can share no window with a new one.
  recent_.erase(recent_.begin(), recent_.upper_bound(now - one_second));
  if (next_for_chat_.size() >= prune_at_) {
    std::erase_if(next_for_chat_, [now](const auto& kv) { return kv.second <= now; });
    prune_at_ = std::max<std::size_t>(1024, 2 * next_for_chat_.size());
  }
}

telegram_rate_limiter::clock::time_point telegram_rate_limiter::reserve(std::int64_t chat_id,
                                                                        clock::time_point now) {
  std::lock_guard guard{mtx_};
  now = latest_now_ = std::max(now, latest_now_);
  forget_before(now);
  auto& next = next_for_chat_[chat_id];
  auto t = fit_global(std::max({now, all_held_until_, next}));
  next = t + (chat_id < 0 ? limits_.per_group : limits_.per_chat);
  if (limits_.global_per_second > 0)
    recent_.insert(t);
  return t;
}

void telegram_rate_limiter::hold(std::int64_t chat_id, clock::time_point until) {
  std::lock_guard guard{mtx_};
  auto& next = next_for_chat_[chat_id];
  next = std::max(next, until);
}

void telegram_rate_limiter::hold_all(clock::time_point until) {
  std::lock_guard guard{mtx_};
  all_held_until_ = std::max(all_held_until_, until);
}

std::size_t telegram_rate_limiter::tracked_chats() const {
  std::lock_guard guard{mtx_};
  return static_cast<std::size_t>(
    std::count_if(next_for_chat_.begin(), next_for_chat_.end(),
                  [this](const auto& kv) { return kv.second > latest_now_; }));
}

} // namespace fw
