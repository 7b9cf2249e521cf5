#include "tests/bench/load_mix_client/options.hpp"

#include "actors/common/text.hpp"

#include <charconv>
#include <iostream>
#include <system_error>

namespace fw::load_mix {

namespace {

template <class Number>
std::optional<Number> parse_number(std::string_view s) {
  Number value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return value;
}

/// A positive, finite number (seconds, or users per second) into `out`.
bool parse_positive(std::string_view s, double& out) {
  auto x = parse_number<double>(s);
  if (!x || !(*x > 0 && *x < 1e9)) // no NaN or infinity either
    return false;
  out = *x;
  return true;
}

/// "MIN-MAX" seconds, or "0" (or empty) for none, or "N" for N-N: as load_mix.py reads
/// FW_MIX_THINK.
bool parse_think(std::string_view spec, options& opts) {
  if (spec.empty() || spec == "0") {
    opts.think_min_s = opts.think_max_s = 0;
    return true;
  }
  auto dash = spec.find('-');
  auto low = parse_number<double>(spec.substr(0, dash));
  auto high = dash == std::string_view::npos ? low : parse_number<double>(spec.substr(dash + 1));
  if (!low || !high || !(*low >= 0 && *high >= *low && *high < 1e6)) // no NaN either
    return false;
  opts.think_min_s = *low;
  opts.think_max_s = *high;
  return true;
}

/// http://HOST[:PORT][/PATH]; HOST may be a bracketed IPv6 address.
bool parse_host(std::string_view url, options& opts) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme))
    return false;
  opts.host = url;
  url.remove_prefix(scheme.size());
  auto slash = url.find('/');
  auto authority = url.substr(0, slash);
  opts.base_path = slash == std::string_view::npos ? "" : std::string{url.substr(slash)};
  while (!opts.base_path.empty() && opts.base_path.back() == '/')
    opts.base_path.pop_back();
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    auto port = parse_number<unsigned>(authority.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535)
      return false;
    opts.port = std::to_string(*port);
    authority = authority.substr(0, colon);
  }
  if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']')
    authority = authority.substr(1, authority.size() - 2);
  opts.address = authority;
  return !opts.address.empty();
}

} // namespace

std::optional<options> parse_options(int argc, char** argv) {
  options opts;
  bool have_host = false;
  auto fail = [](const std::string& why) -> std::optional<options> {
    std::cerr << "load_mix_client: " << why << "\n" << usage_text;
    return std::nullopt;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i + 1 >= argc)
      return fail("'" + std::string{arg} + "' is unknown or lacks its value");
    std::string_view value = argv[++i];
    bool ok = true;
    if (arg == "-u") {
      auto n = parse_number<int>(value);
      ok = n && *n >= 1;
      opts.users = n.value_or(0);
    } else if (arg == "-r") {
      ok = parse_positive(value, opts.spawn_rate);
    } else if (arg == "-d") {
      ok = parse_positive(value, opts.duration_s);
    } else if (arg == "--timeout") {
      ok = parse_positive(value, opts.timeout_s);
    } else if (arg == "--think") {
      ok = parse_think(value, opts);
    } else if (arg == "--run") {
      ok = !value.empty();
      opts.run = value;
    } else if (arg == "--host") {
      ok = have_host = parse_host(value, opts);
    } else if (arg == "--slow") {
      ok = parse_positive(value, opts.slow_ms);
    } else if (arg == "--csv") {
      ok = !value.empty();
      opts.csv_prefix = value;
    } else {
      return fail("unknown argument '" + std::string{arg} + "'");
    }
    if (!ok)
      return fail("bad value '" + std::string{value} + "' for " + std::string{arg});
  }
  if (!have_host)
    return fail("--host http://HOST:PORT is required");
  if (opts.run.empty())
    opts.run = fw::random_hex_id(4); // 8 hex digits, as uuid.uuid4().hex[:8]
  return opts;
}

} // namespace fw::load_mix
