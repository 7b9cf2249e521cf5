#pragma once
// Maps (method, path pattern) to a handler. Patterns are literal segments and "{name}"
// placeholders ("/user-manager/users/{email}"); placeholders match one percent-decoded
// segment. An unknown path is a 404, a known path with another method a 405 (with Allow),
// both as JSON. Every dispatched request is counted in the HTTP metrics under its
// pattern, so label cardinality stays bounded.

#include "gateway/http_metrics.hpp"
#include "gateway/http_types.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace fw::gateway {

/// What a handler gets: the request, its path and query parameters, and its body parsed
/// as JSON when the request declares a JSON body (one that does not parse never reaches
/// a handler: the router answers 400).
struct request_context {
  request req;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> query;
  std::optional<nlohmann::json> json;
};

/// Completes the request; callable once, from any thread.
using reply_fn = std::function<void(response)>;
using route_handler = std::function<void(request_context& ctx, reply_fn reply)>;

class router {
public:
  explicit router(std::shared_ptr<http_metrics> metrics);

  /// `service` is the role that serves the route (the "service" metrics label).
  void add(http::verb method, std::string pattern, std::string service, route_handler handler);

  /// Routes `req` and completes it through `done` (404/405 when nothing matches).
  void dispatch(request&& req, reply_fn done) const;
  /// The same for the server's responder, without wrapping it in a reply_fn first.
  void dispatch(request&& req, responder done) const;

private:
  template <class Done>
  void dispatch_to(request&& req, Done&& done) const;

  struct route {
    http::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    route_handler handler;
    http_metrics::route_metrics* metrics;
  };
  std::shared_ptr<http_metrics> metrics_;
  std::vector<route> routes_;
  http_metrics::route_metrics* unmatched_;
};

/// Splits "/a/b%40c?x=1" into decoded path segments {"a", "b@c"}.
std::vector<std::string> split_path(std::string_view target);
/// Parses "x=1&y=a%20b" into {x: "1", y: "a b"}.
std::map<std::string, std::string> parse_query(std::string_view query);
/// Decodes %XX escapes; '+' means a space only in query strings.
std::string percent_decode(std::string_view text, bool plus_as_space);

} // namespace fw::gateway
