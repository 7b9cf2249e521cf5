#include "actors/data_collector/opensky_client.hpp"

#include "actors/common/log.hpp"
#include "messages/errors.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace fw {

namespace {

/// OpenSky refuses airport intervals longer than two days.
constexpr std::int64_t max_interval_seconds = 2 * 24 * 3600;
/// Token lifetime when the token endpoint does not say.
constexpr std::int64_t default_expires_in = 1800;
/// Refresh this long before the token expires.
constexpr auto refresh_margin = std::chrono::seconds{30};

std::string trimmed(std::string s) {
  auto last = s.find_last_not_of(' ');
  s.erase(last == std::string::npos ? 0 : last + 1);
  auto first = s.find_first_not_of(' ');
  return first == std::string::npos ? std::string{} : s.substr(first);
}

std::string string_or_empty(const nlohmann::json& j, const char* key) {
  auto i = j.find(key);
  return i == j.end() || !i->is_string() ? std::string{} : i->get<std::string>();
}

caf::optional<std::int64_t> optional_int(const nlohmann::json& j, const char* key) {
  auto i = j.find(key);
  if (i == j.end() || !i->is_number())
    return caf::none;
  return i->get<std::int64_t>();
}

std::optional<long> header_number(const http_reply& r, const char* name) {
  auto i = r.headers.find(name);
  if (i == r.headers.end())
    return std::nullopt;
  long value = 0;
  auto [end, err] = std::from_chars(i->second.data(), i->second.data() + i->second.size(), value);
  if (err != std::errc{})
    return std::nullopt;
  return value;
}

} // namespace

const char* to_string(flight_kind kind) {
  return kind == flight_kind::arrivals ? "arrivals" : "departures";
}

std::vector<flight> parse_opensky_flights(const std::string& body) {
  auto j = nlohmann::json::parse(body);
  if (!j.is_array())
    throw std::runtime_error("expected a JSON array of flights");
  std::vector<flight> out;
  out.reserve(j.size());
  for (const auto& f : j) {
    flight x;
    x.icao24 = f.at("icao24").get<std::string>();
    x.first_seen = f.at("firstSeen").get<std::int64_t>();
    x.last_seen = f.at("lastSeen").get<std::int64_t>();
    x.est_departure_airport = string_or_empty(f, "estDepartureAirport");
    x.est_arrival_airport = string_or_empty(f, "estArrivalAirport");
    x.callsign = trimmed(string_or_empty(f, "callsign"));
    x.est_departure_airport_horiz_distance = optional_int(f, "estDepartureAirportHorizDistance");
    x.est_departure_airport_vert_distance = optional_int(f, "estDepartureAirportVertDistance");
    x.est_arrival_airport_horiz_distance = optional_int(f, "estArrivalAirportHorizDistance");
    x.est_arrival_airport_vert_distance = optional_int(f, "estArrivalAirportVertDistance");
    x.departure_airport_candidates_count = optional_int(f, "departureAirportCandidatesCount");
    x.arrival_airport_candidates_count = optional_int(f, "arrivalAirportCandidatesCount");
    out.push_back(std::move(x));
  }
  return out;
}

opensky_client::opensky_client(const opensky_settings& cfg, node_metrics& metrics)
  : cfg_(cfg),
    breaker_(cfg.breaker_failures, cfg.breaker_open),
    metrics_(metrics),
    duration_(prometheus::BuildHistogram()
                .Name("opensky_api_duration_seconds")
                .Help("Duration of OpenSky API calls, by airport")
                .Register(metrics.registry())),
    calls_(prometheus::BuildCounter()
             .Name("opensky_api_calls_total")
             .Help("OpenSky API calls by outcome (HTTP status, error, timeout, "
                   "breaker_open, rate_limited)")
             .Register(metrics.registry())),
    breaker_gauge_(prometheus::BuildGauge()
                     .Name("opensky_circuit_breaker_state")
                     .Help("OpenSky circuit breaker: 0 closed, 1 open, 2 half-open")
                     .Register(metrics.registry())
                     .Add(metrics.labels("data_collector"))),
    credits_gauge_(prometheus::BuildGauge()
                     .Name("opensky_credits_remaining")
                     .Help("API credits left, as OpenSky last reported "
                           "(X-Rate-Limit-Remaining); -1 until it has")
                     .Register(metrics.registry())
                     .Add(metrics.labels("data_collector"))) {
  credits_gauge_.Set(-1);
}

void opensky_client::count_call(const std::string& status) {
  auto labels = metrics_.labels("data_collector");
  labels.emplace("status", status);
  calls_.Add(labels).Increment();
}

void opensky_client::publish_breaker_state() {
  breaker_gauge_.Set(static_cast<double>(breaker_.current()));
}

caf::expected<std::vector<flight>> opensky_client::fetch(http_client& http, flight_kind kind,
                                                         const std::string& airport,
                                                         std::int64_t begin, std::int64_t end) {
  // OpenSky's bounds are inclusive: consecutive chunks must not share their end second.
  std::vector<flight> all;
  for (auto from = begin; from <= end;) {
    const auto to = std::min(end, from + max_interval_seconds);
    auto part = fetch_chunk(http, kind, airport, from, to);
    if (!part)
      return part.error();
    all.insert(all.end(), std::make_move_iterator(part->begin()),
               std::make_move_iterator(part->end()));
    if (to == end)
      break;
    from = to + 1;
  }
  return all;
}

caf::expected<std::string> opensky_client::authorization(http_client& http, bool force_refresh) {
  if (cfg_.client_id.empty())
    return std::string{};
  std::lock_guard guard{mtx_};
  const auto now = clock::now();
  if (!force_refresh && !token_.empty() && now < token_refresh_at_)
    return "Authorization: Bearer " + token_;
  auto form = "grant_type=client_credentials&client_id=" + http_client::escape(cfg_.client_id)
              + "&client_secret=" + http_client::escape(cfg_.client_secret);
  auto reply = http.request("POST", cfg_.auth_url,
                            {"Content-Type: application/x-www-form-urlencoded"}, form,
                            cfg_.timeout);
  if (reply.status != 200) {
    token_.clear();
    auto why = reply.status == 0 ? reply.error : "HTTP " + std::to_string(reply.status);
    count_call(reply.status == 0 ? "token_error" : "token_" + std::to_string(reply.status));
    return make_error(reply.timed_out ? ec::timeout : ec::unavailable,
                      "OpenSky token request failed: " + why);
  }
  try {
    auto j = nlohmann::json::parse(reply.body);
    token_ = j.at("access_token").get<std::string>();
    auto expires_in = j.value("expires_in", default_expires_in);
    token_refresh_at_ = now + std::chrono::seconds{expires_in} - refresh_margin;
  } catch (const std::exception&) {
    token_.clear();
    return make_error(ec::internal, "OpenSky token response has no access_token");
  }
  return "Authorization: Bearer " + token_;
}

caf::expected<std::vector<flight>>
opensky_client::fetch_chunk(http_client& http, flight_kind kind, const std::string& airport,
                            std::int64_t begin, std::int64_t end) {
  {
    std::lock_guard guard{mtx_};
    if (auto now = clock::now(); now < paused_until_) {
      count_call("rate_limited");
      auto wait = std::chrono::duration_cast<std::chrono::seconds>(paused_until_ - now);
      return make_error(ec::unavailable, "OpenSky rate limit: retrying after "
                                           + std::to_string(wait.count() + 1) + " s");
    }
  }
  if (!breaker_.allow()) {
    count_call("breaker_open");
    publish_breaker_state();
    return make_error(ec::unavailable, "OpenSky circuit breaker is open");
  }
  publish_breaker_state();
  const auto url = cfg_.base_url
                   + (kind == flight_kind::arrivals ? "/flights/arrival" : "/flights/departure")
                   + "?airport=" + http_client::escape(airport) + "&begin="
                   + std::to_string(begin) + "&end=" + std::to_string(end);
  auto fail = [this](caf::error err) {
    breaker_.record_failure();
    publish_breaker_state();
    return err;
  };
  http_reply reply;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto auth = authorization(http, attempt > 0);
    if (!auth)
      return fail(auth.error());
    std::vector<std::string> headers{"Accept: application/json"};
    if (!auth->empty())
      headers.push_back(*auth);
    reply = http.request("GET", url, headers, {}, cfg_.timeout);
    auto labels = metrics_.labels("data_collector");
    labels.emplace("airport_code", airport);
    duration_
      .Add(labels, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                                           15, 30})
      .Observe(std::chrono::duration<double>(reply.elapsed).count());
    count_call(reply.status == 0 ? (reply.timed_out ? "timeout" : "error")
                                 : std::to_string(reply.status));
    if (auto remaining = header_number(reply, "x-rate-limit-remaining"))
      credits_gauge_.Set(static_cast<double>(*remaining));
    // A rejected token is refreshed once; anonymous access has nothing to refresh.
    if (reply.status != 401 || cfg_.client_id.empty())
      break;
  }
  if (reply.status == 200) {
    try {
      auto flights = parse_opensky_flights(reply.body);
      breaker_.record_success();
      publish_breaker_state();
      return flights;
    } catch (const std::exception& e) {
      return fail(make_error(ec::internal, std::string{"OpenSky answered malformed flights: "}
                                             + e.what()));
    }
  }
  if (reply.status == 404) { // OpenSky's way of saying "no flights in this interval"
    breaker_.record_success();
    publish_breaker_state();
    return std::vector<flight>{};
  }
  if (reply.status == 429) {
    // The service works, it asks us to wait: pause instead of counting a failure.
    auto wait = header_number(reply, "x-rate-limit-retry-after-seconds").value_or(60);
    {
      std::lock_guard guard{mtx_};
      paused_until_ = clock::now() + std::chrono::seconds{std::max(1L, wait)};
    }
    breaker_.record_success();
    publish_breaker_state();
    log::warn("data-collector", "OpenSky rate limit reached; pausing ", wait, " s");
    return make_error(ec::unavailable, "OpenSky rate limit: retrying after "
                                         + std::to_string(wait) + " s");
  }
  if (reply.status == 0)
    return fail(make_error(reply.timed_out ? ec::timeout : ec::unavailable,
                           "OpenSky unreachable: " + reply.error));
  return fail(make_error(ec::unavailable, "OpenSky answered HTTP " + std::to_string(reply.status)));
}

} // namespace fw
