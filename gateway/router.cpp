#include "gateway/router.hpp"

#include "gateway/responses.hpp"

#include <algorithm>
#include <chrono>

namespace fw::gateway {

std::string percent_decode(std::string_view text, bool plus_as_space) {
  if (text.find_first_of(plus_as_space ? "%+" : "%") == std::string_view::npos)
    return std::string{text}; // nothing to decode: the common case of every path segment
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = hex(text[i + 1]);
      int lo = hex(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += plus_as_space && text[i] == '+' ? ' ' : text[i];
  }
  return out;
}

std::vector<std::string> split_path(std::string_view target) {
  auto path = target.substr(0, target.find('?'));
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(std::count(path.begin(), path.end(), '/')));
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    auto end = path.find('/', pos);
    if (end == std::string_view::npos)
      end = path.size();
    out.push_back(percent_decode(path.substr(pos, end - pos), false));
    pos = end;
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      auto key = percent_decode(pair.substr(0, eq), true);
      out[key] = eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos)
      break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

router::router(std::shared_ptr<http_metrics> metrics)
  : metrics_(std::move(metrics)), unmatched_(&metrics_->route("gateway", "unmatched")) {
}

void router::add(http::verb method, std::string pattern, std::string service,
                 route_handler handler) {
  auto segments = split_path(pattern);
  auto* m = &metrics_->route(service, pattern);
  routes_.push_back({method, std::move(pattern), std::move(segments), std::move(handler), m});
}

void router::dispatch(request&& req, reply_fn done) const {
  dispatch_to(std::move(req), std::move(done));
}

void router::dispatch(request&& req, responder done) const {
  dispatch_to(std::move(req), std::move(done));
}

template <class Done>
void router::dispatch_to(request&& req, Done&& done) const {
  auto started = std::chrono::steady_clock::now();
  auto target_view = req.target();
  std::string_view target{target_view.data(), target_view.size()};
  auto segments = split_path(target);
  const route* match = nullptr;
  const route* path_route = nullptr; // a route with this path, for a 405
  std::string allow;
  std::map<std::string, std::string> params;
  for (const auto& r : routes_) {
    if (r.segments.size() != segments.size())
      continue;
    std::map<std::string, std::string> found;
    bool ok = true;
    for (size_t i = 0; ok && i < segments.size(); ++i) {
      const auto& want = r.segments[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}')
        found[want.substr(1, want.size() - 2)] = segments[i];
      else
        ok = want == segments[i];
    }
    if (!ok)
      continue;
    path_route = &r;
    if (r.method == req.method()) {
      match = &r;
      params = std::move(found);
      break;
    }
    allow += (allow.empty() ? "" : ", ") + std::string{http::to_string(r.method)};
  }
  auto version = req.version();
  auto keep_alive = req.keep_alive();
  // Label only standard methods, so odd clients cannot create unbounded series.
  auto method = req.method() == http::verb::unknown ? std::string{"other"}
                                                    : std::string{req.method_string()};
  auto* m = match ? match->metrics : path_route ? path_route->metrics : unmatched_;
  m->begin();
  reply_fn reply = [done = std::forward<Done>(done), m, method, started](response res) mutable {
    m->end(method, res.result_int(), std::chrono::steady_clock::now() - started);
    done(std::move(res));
  };
  if (match == nullptr) {
    if (path_route != nullptr) {
      auto res = error_response(http::status::method_not_allowed, "method_not_allowed",
                                "use " + allow + " for this path", version, keep_alive);
      res.set(http::field::allow, allow);
      reply(std::move(res));
    } else {
      reply(error_response(http::status::not_found, "not_found",
                           "no route for " + std::string{target.substr(0, target.find('?'))},
                           version, keep_alive));
    }
    return;
  }
  request_context ctx;
  if (auto q = target.find('?'); q != std::string_view::npos)
    ctx.query = parse_query(target.substr(q + 1));
  ctx.params = std::move(params);
  auto content_type = req[http::field::content_type];
  if (!req.body().empty() && content_type.starts_with("application/json")) {
    ctx.json = nlohmann::json::parse(req.body(), nullptr, false);
    if (ctx.json->is_discarded()) {
      reply(error_response(http::status::bad_request, "invalid_json",
                           "the request body is not valid JSON", version, keep_alive));
      return;
    }
  }
  ctx.req = std::move(req);
  match->handler(ctx, std::move(reply));
}

} // namespace fw::gateway
