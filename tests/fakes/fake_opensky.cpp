#include "tests/fakes/fake_opensky.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <numbers>
#include <sstream>

#include <nlohmann/json.hpp>

namespace fw::test {

using json = nlohmann::ordered_json;  // keeps OpenSky's field order

const char* to_string(opensky_endpoint e) {
  return e == opensky_endpoint::arrival ? "arrival" : "departure";
}

// ---------------------------------------------------------------------------
// Wire format

namespace {

json opt(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }
json opt(const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); }

json flight_json(const fake_flight& f) {
  json j;
  j["icao24"] = f.icao24;
  j["firstSeen"] = f.first_seen;
  j["estDepartureAirport"] = opt(f.departure);
  j["lastSeen"] = f.last_seen;
  j["estArrivalAirport"] = opt(f.arrival);
  if (f.callsign) {
    auto padded = *f.callsign;
    if (padded.size() < 8) padded.resize(8, ' ');
    j["callsign"] = padded;
  } else {
    j["callsign"] = nullptr;
  }
  j["estDepartureAirportHorizDistance"] = opt(f.departure_horiz_distance);
  j["estDepartureAirportVertDistance"] = opt(f.departure_vert_distance);
  j["estArrivalAirportHorizDistance"] = opt(f.arrival_horiz_distance);
  j["estArrivalAirportVertDistance"] = opt(f.arrival_vert_distance);
  j["departureAirportCandidatesCount"] = opt(f.departure_candidates);
  j["arrivalAirportCandidatesCount"] = opt(f.arrival_candidates);
  return j;
}

}  // namespace

std::string to_opensky_json(const fake_flight& f) { return flight_json(f).dump(); }

std::string to_opensky_json(const std::vector<fake_flight>& flights) {
  auto arr = json::array();
  for (const auto& f : flights) arr.push_back(flight_json(f));
  return arr.dump();
}

// ---------------------------------------------------------------------------
// Traffic generator

namespace {

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t hash_str(const std::string& s) {  // FNV-1a: stable across runs and builds
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint64_t mix(std::uint64_t a, std::uint64_t b) { return splitmix(a ^ splitmix(b)); }

// A small deterministic generator (splitmix64 stream).
class rng {
 public:
  explicit rng(std::uint64_t seed) : state_{seed} {}
  std::uint64_t next() { return splitmix(state_ += 0x9e3779b97f4a7c15ULL); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  std::int64_t between(std::int64_t lo, std::int64_t hi) {  // [lo, hi]
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  bool chance(double p) { return uniform() < p; }

 private:
  std::uint64_t state_;
};

struct airline_info {
  const char* icao;
  std::uint32_t block_base;  // the registering country's ICAO 24-bit block
  std::uint32_t block_size;
  std::uint32_t fleet;
};

constexpr std::array<airline_info, 27> airlines{{
    {"DLH", 0x3c0000, 0x040000, 280}, {"EWG", 0x3c0000, 0x040000, 110},
    {"CFG", 0x3c0000, 0x040000, 60},  {"ITY", 0x300000, 0x040000, 90},
    {"RYR", 0x4ca000, 0x001000, 450}, {"EZY", 0x400000, 0x040000, 320},
    {"AFR", 0x380000, 0x040000, 220}, {"BAW", 0x400000, 0x040000, 260},
    {"KLM", 0x480000, 0x008000, 120}, {"SWR", 0x4b0000, 0x008000, 90},
    {"AUA", 0x440000, 0x008000, 70},  {"IBE", 0x340000, 0x040000, 110},
    {"VLG", 0x340000, 0x040000, 120}, {"UAE", 0x896000, 0x002000, 250},
    {"THY", 0x4b8000, 0x008000, 400}, {"UAL", 0xa00000, 0x100000, 900},
    {"DAL", 0xa00000, 0x100000, 900}, {"AAL", 0xa00000, 0x100000, 900},
    {"WZZ", 0x470000, 0x008000, 200}, {"TAP", 0x490000, 0x008000, 100},
    {"SAS", 0x458000, 0x008000, 130}, {"LOT", 0x488000, 0x008000, 80},
    {"QTR", 0x06a000, 0x000400, 230}, {"AEE", 0x468000, 0x008000, 60},
    {"EIN", 0x4ca000, 0x001000, 60},  {"VOE", 0x340000, 0x040000, 40},
    {"TVF", 0x380000, 0x040000, 70},
}};

struct airport_info {
  const char* icao;
  double lat, lon;
  int daily;               // movements (arrivals + departures) a day
  const char* carriers;    // home carriers, comma separated
};

constexpr std::array<airport_info, 30> known_airports{{
    {"EDDF", 50.033, 8.571, 800, "DLH,CFG,EWG"},
    {"EDDM", 48.354, 11.786, 650, "DLH,EWG"},
    {"EDDB", 52.366, 13.503, 380, "EZY,EWG,RYR"},
    {"EDDH", 53.630, 9.988, 260, "EWG,DLH"},
    {"EGLL", 51.470, -0.454, 800, "BAW"},
    {"EGKK", 51.148, -0.190, 450, "EZY,BAW"},
    {"LFPG", 49.010, 2.548, 780, "AFR"},
    {"LFPO", 48.723, 2.379, 330, "AFR,TVF,VOE"},
    {"EHAM", 52.309, 4.764, 780, "KLM"},
    {"LEMD", 40.472, -3.561, 700, "IBE"},
    {"LEBL", 41.297, 2.078, 600, "VLG,RYR"},
    {"LSZH", 47.465, 8.549, 500, "SWR"},
    {"LOWW", 48.110, 16.570, 460, "AUA"},
    {"LIRF", 41.800, 12.239, 650, "ITY,RYR"},
    {"LIMC", 45.630, 8.723, 450, "EZY,ITY"},
    {"LIME", 45.674, 9.704, 220, "RYR,WZZ"},
    {"LIML", 45.445, 9.277, 200, "ITY"},
    {"LIPZ", 45.505, 12.352, 240, "EZY,VLG"},
    {"LIRN", 40.886, 14.291, 240, "EZY,RYR,VLG"},
    {"LICC", 37.467, 15.066, 230, "RYR,ITY,EZY,WZZ"},
    {"LICJ", 38.176, 13.091, 180, "RYR,ITY,VOE"},
    {"LGAV", 37.936, 23.947, 450, "AEE"},
    {"LPPT", 38.781, -9.136, 500, "TAP"},
    {"EIDW", 53.421, -6.270, 450, "EIN,RYR"},
    {"EKCH", 55.618, 12.656, 420, "SAS"},
    {"EPWA", 52.166, 20.967, 330, "LOT"},
    {"LTFM", 41.262, 28.742, 800, "THY"},
    {"OMDB", 25.253, 55.364, 750, "UAE"},
    {"OTHH", 25.273, 51.608, 550, "QTR"},
    {"KJFK", 40.640, -73.779, 800, "DAL,AAL,UAL"},
}};

// Relative movements by local hour: a night curfew-ish trough, morning and
// evening waves.
constexpr std::array<double, 24> hourly_profile{
    0.35, 0.15, 0.08, 0.08, 0.15, 0.55, 1.25, 1.65, 1.70, 1.55, 1.45, 1.40,
    1.40, 1.40, 1.45, 1.50, 1.60, 1.70, 1.70, 1.55, 1.35, 1.05, 0.75, 0.50};

const airport_info* find_airport(const std::string& icao) {
  for (const auto& a : known_airports)
    if (icao == a.icao) return &a;
  return nullptr;
}

const airline_info& find_airline(const std::string& icao) {
  for (const auto& a : airlines)
    if (icao == a.icao) return a;
  return airlines[0];
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss{s};
  for (std::string part; std::getline(ss, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

double distance_km(const airport_info& a, const airport_info& b) {
  constexpr double rad = std::numbers::pi / 180.0;
  const double dlat = (b.lat - a.lat) * rad, dlon = (b.lon - a.lon) * rad;
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(a.lat * rad) * std::cos(b.lat * rad) * std::sin(dlon / 2) *
                       std::sin(dlon / 2);
  return 2 * 6371.0 * std::asin(std::sqrt(h));
}

// Hours to add to UTC for the local time of day (DST ignored).
int utc_offset_hours(const airport_info* a) {
  if (a == nullptr) return 0;
  int offset = static_cast<int>(std::lround(a->lon / 15.0));
  if (a->lat > 35 && a->lon > -10 && a->lon < 30) offset = a->lon < -5 ? 0 : 1;  // WET / CET
  return offset;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

std::string hex6(std::uint32_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%06x", v & 0xffffffu);
  return buf;
}

std::string make_callsign(const std::string& airline, rng& r) {
  std::string cs = airline;
  if (r.chance(0.7)) {
    cs += std::to_string(r.between(1, r.chance(0.5) ? 999 : 9999));
  } else {  // ATC-style alphanumeric: "RYR4KM", "EZY45HK"
    static constexpr char letters[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    cs += std::to_string(r.between(1, 99));
    const auto n = r.between(1, 2);
    for (std::int64_t i = 0; i < n; ++i) cs += letters[r.between(0, 23)];
  }
  return cs;
}

}  // namespace

traffic_generator::traffic_generator(std::vector<std::string> airports, std::uint64_t seed,
                                     std::int64_t available_from)
    : airports_{std::move(airports)}, seed_{seed}, available_from_{available_from} {
  for (auto& a : airports_)
    for (auto& c : a) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
}

std::vector<std::string> traffic_generator::default_airports() {
  return {"EDDF", "EDDM", "EGLL", "LFPG", "EHAM", "LEMD", "LSZH",
          "LIRF", "LIMC", "LICC", "LICJ", "LIRN", "LOWW"};
}

int traffic_generator::daily_movements(const std::string& airport) const {
  if (std::find(airports_.begin(), airports_.end(), airport) == airports_.end()) return 0;
  if (const auto* a = find_airport(airport)) return a->daily;
  return 100 + static_cast<int>(mix(seed_, hash_str(airport)) % 401);  // 100..500
}

std::vector<fake_flight> traffic_generator::flights(opensky_endpoint endpoint,
                                                    const std::string& airport,
                                                    std::int64_t begin, std::int64_t end,
                                                    std::int64_t now) const {
  std::vector<fake_flight> out;
  const int daily = daily_movements(airport);
  if (daily == 0 || end < begin) return out;
  const auto* here = find_airport(airport);
  const int offset = utc_offset_hours(here);
  double profile_sum = 0;
  for (double w : hourly_profile) profile_sum += w;
  const bool arrivals = endpoint == opensky_endpoint::arrival;

  // Counterparts: other known airports, the big and the near ones more often.
  std::vector<std::pair<const airport_info*, double>> counterparts;
  double weight_sum = 0;
  for (const auto& a : known_airports) {
    if (airport == a.icao) continue;
    double w = a.daily;
    if (here != nullptr) w /= std::pow(1.0 + distance_km(*here, a) / 1000.0, 2);
    counterparts.emplace_back(&a, w);
    weight_sum += w;
  }
  const auto home = split(here != nullptr ? here->carriers : "", ',');

  const std::int64_t last_hour = floor_div(std::min(end, now), 3600);
  for (std::int64_t hour = floor_div(std::max(begin, available_from_), 3600); hour <= last_hour;
       ++hour) {
    rng r{mix(mix(seed_, hash_str(airport)), mix(static_cast<std::uint64_t>(hour), arrivals))};
    const auto local = static_cast<std::size_t>(((hour + offset) % 24 + 24) % 24);
    const double expected = daily / 2.0 * hourly_profile[local] / profile_sum;
    const double jittered = expected * (0.75 + 0.5 * r.uniform());
    auto count = static_cast<int>(jittered);
    if (r.uniform() < jittered - count) ++count;

    for (int i = 0; i < count; ++i) {
      const std::int64_t event = hour * 3600 + r.between(0, 3599);

      // Counterpart and airline.
      double pick = r.uniform() * weight_sum;
      const airport_info* other = counterparts.back().first;
      for (const auto& [a, w] : counterparts) {
        if (pick < w) {
          other = a;
          break;
        }
        pick -= w;
      }
      const auto theirs = split(other->carriers, ',');
      const double which = r.uniform();
      std::string airline;
      if (which < 0.45 && !home.empty()) {
        // The first home carrier dominates (min of two draws favours low indices).
        const auto last = static_cast<std::int64_t>(home.size()) - 1;
        airline = home[static_cast<std::size_t>(std::min(r.between(0, last), r.between(0, last)))];
      } else if (which < 0.8) {
        airline = theirs[static_cast<std::size_t>(r.between(0, static_cast<std::int64_t>(theirs.size()) - 1))];
      } else {
        airline = airlines[static_cast<std::size_t>(
            r.between(0, static_cast<std::int64_t>(airlines.size()) - 1))].icao;
      }
      const auto& carrier = find_airline(airline);

      // The same aircraft recur: a fleet per airline, independent of the seed.
      const auto tail = static_cast<std::uint64_t>(r.between(0, carrier.fleet - 1));
      const auto icao24 =
          carrier.block_base +
          static_cast<std::uint32_t>(mix(hash_str(airline), tail) % carrier.block_size);

      // Time in the air (transponder seen): cruise at ~780 km/h plus climb/descent.
      double minutes = here != nullptr ? distance_km(*here, *other) / 780.0 * 60.0 + 25.0
                                       : static_cast<double>(r.between(45, 240));
      minutes *= 0.92 + 0.16 * r.uniform();
      const auto duration = static_cast<std::int64_t>(minutes * 60.0);

      fake_flight f;
      f.icao24 = hex6(icao24);
      f.first_seen = arrivals ? event - duration : event;
      f.last_seen = arrivals ? event : event + duration;
      const bool unknown_other = r.chance(0.06);
      const bool no_callsign = r.chance(0.015);
      auto callsign = make_callsign(airline, r);
      if (arrivals) {
        f.arrival = airport;
        if (!unknown_other) f.departure = other->icao;
      } else {
        f.departure = airport;
        if (!unknown_other) f.arrival = other->icao;
      }
      if (!no_callsign) f.callsign = std::move(callsign);
      const auto dep_h = r.between(150, 4500), dep_v = r.between(0, 180);
      const auto arr_h = r.between(200, 6000), arr_v = r.between(0, 250);
      const auto dep_c = r.between(0, 3), arr_c = r.between(0, 3);
      if (f.departure) {
        f.departure_horiz_distance = dep_h;
        f.departure_vert_distance = dep_v;
        f.departure_candidates = dep_c + (f.departure == airport ? 1 : 0);
      } else {
        f.departure_candidates = 0;
      }
      if (f.arrival) {
        f.arrival_horiz_distance = arr_h;
        f.arrival_vert_distance = arr_v;
        f.arrival_candidates = arr_c + (f.arrival == airport ? 1 : 0);
      } else {
        f.arrival_candidates = 0;
      }

      // Every draw above happens for every flight, so that the stream of an hour
      // does not depend on the interval asked for.
      if (event < begin || event > end) continue;
      // Seen before the data starts, or still in the air: not (yet) reported.
      if (f.first_seen < available_from_ || f.last_seen > now) continue;
      out.push_back(std::move(f));
    }
  }
  std::sort(out.begin(), out.end(), [arrivals](const fake_flight& a, const fake_flight& b) {
    return arrivals ? a.last_seen < b.last_seen : a.first_seen < b.first_seen;
  });
  return out;
}

// ---------------------------------------------------------------------------
// The fake service

namespace {

using request = scripted_http_server::request;
using response = scripted_http_server::response;
using steady = std::chrono::steady_clock;

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

std::map<std::string, std::string> parse_form(const std::string& body) {
  std::map<std::string, std::string> out;
  for (const auto& pair : split(body, '&')) {
    auto eq = pair.find('=');
    out[percent_decode(pair.substr(0, eq))] =
        eq == std::string::npos ? "" : percent_decode(pair.substr(eq + 1));
  }
  return out;
}

std::optional<std::int64_t> parse_int(const std::map<std::string, std::string>& query,
                                      const char* key) {
  auto it = query.find(key);
  if (it == query.end() || it->second.empty()) return std::nullopt;
  std::int64_t v = 0;
  const auto* first = it->second.data();
  const auto* last = first + it->second.size();
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc{} || ptr != last) return std::nullopt;
  return v;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string error_body(unsigned status, const std::string& error, const std::string& message,
                       const std::string& path) {
  json j;
  j["timestamp"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  j["status"] = status;
  j["error"] = error;
  j["message"] = message;
  j["path"] = path;
  return j.dump();
}

const char* reason(unsigned status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
  }
}

struct scripted_failure {
  unsigned status;
  long retry_after;  // 429 only
};

}  // namespace

struct fake_opensky::state {
  mutable std::mutex mutex;
  mutable std::condition_variable answered_cv;

  std::vector<fake_flight> flights;
  std::shared_ptr<const traffic_generator> generator;

  std::optional<std::pair<std::string, std::string>> credentials;
  std::chrono::seconds token_lifetime{1800};
  std::map<std::string, steady::time_point> tokens;  // token -> expiry
  std::uint64_t token_serial = 0;
  std::size_t token_requests = 0;
  std::size_t tokens_issued = 0;
  std::deque<unsigned> token_failures;

  std::deque<scripted_failure> failures;
  std::optional<std::int64_t> credits;
  std::chrono::milliseconds delay{0};

  std::vector<flight_request> recorded;

  response token(const request& req);
  response flights_endpoint(opensky_endpoint endpoint, const request& req);
};

response fake_opensky::state::token(const request& req) {
  std::lock_guard lock{mutex};
  ++token_requests;
  if (!token_failures.empty()) {
    auto status = token_failures.front();
    token_failures.pop_front();
    return {status, json{{"error", "temporarily_unavailable"},
                         {"error_description", reason(status)}}
                        .dump()};
  }
  auto form = parse_form(req.body);
  if (form["grant_type"] != "client_credentials") {
    return {400, json{{"error", "unsupported_grant_type"},
                      {"error_description", "Unsupported grant_type"}}
                     .dump()};
  }
  const auto& id = form["client_id"];
  const auto& secret = form["client_secret"];
  const bool ok = credentials ? (id == credentials->first && secret == credentials->second)
                              : !id.empty();
  if (!ok) {
    return {401, json{{"error", "invalid_client"},
                      {"error_description", "Invalid client or Invalid client credentials"}}
                     .dump()};
  }
  ++token_serial;
  auto token = "fake-opensky." + std::to_string(token_serial) + "." +
               hex6(static_cast<std::uint32_t>(mix(token_serial, hash_str(id)))) +
               hex6(static_cast<std::uint32_t>(mix(hash_str(id), token_serial)));
  tokens[token] = steady::now() + token_lifetime;
  ++tokens_issued;
  json j;
  j["access_token"] = token;
  j["expires_in"] = token_lifetime.count();
  j["refresh_expires_in"] = 0;
  j["token_type"] = "Bearer";
  j["not-before-policy"] = 0;
  j["scope"] = "profile email";
  return response{200, j.dump()}
      .with_header("Cache-Control", "no-store")
      .with_header("Pragma", "no-cache");
}

response fake_opensky::state::flights_endpoint(opensky_endpoint endpoint, const request& req) {
  flight_request rec;
  rec.endpoint = endpoint;
  if (auto it = req.query.find("airport"); it != req.query.end()) rec.airport = it->second;
  const auto begin = parse_int(req.query, "begin");
  const auto end = parse_int(req.query, "end");
  rec.begin = begin.value_or(0);
  rec.end = end.value_or(0);
  std::string bearer;
  if (auto it = req.headers.find("authorization"); it != req.headers.end()) {
    constexpr std::string_view prefix = "Bearer ";
    if (it->second.size() > prefix.size() &&
        std::equal(prefix.begin(), prefix.end(), it->second.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      rec.had_bearer = true;
      bearer = it->second.substr(prefix.size());
    }
  }

  std::unique_lock lock{mutex};
  if (rec.had_bearer) {
    auto it = tokens.find(bearer);
    rec.bearer_valid = it != tokens.end() && steady::now() < it->second;
  }
  auto gen = generator;
  auto answer = [&]() -> response {
    if (!failures.empty()) {
      auto f = failures.front();
      failures.pop_front();
      if (f.status == 429) {
        return response{429, error_body(429, reason(429), "Too many requests", req.path)}
            .with_header("X-Rate-Limit-Retry-After-Seconds", std::to_string(f.retry_after));
      }
      return {f.status, error_body(f.status, reason(f.status), "Scripted failure", req.path)};
    }
    if (rec.had_bearer ? !rec.bearer_valid : credentials.has_value()) {
      return response{401, error_body(401, reason(401),
                                      rec.had_bearer ? "Invalid or expired token"
                                                     : "Full authentication is required",
                                      req.path)}
          .with_header("WWW-Authenticate",
                       rec.had_bearer ? R"(Bearer error="invalid_token")" : "Bearer");
    }
    if (rec.airport.empty() || !begin || !end) {
      return {400, error_body(400, reason(400),
                              "Required parameters: airport, begin, end (unix seconds)",
                              req.path)};
    }
    if (*begin > *end) {
      return {400, error_body(400, reason(400), "The end time must be after the begin time",
                              req.path)};
    }
    if (*end - *begin > max_interval_seconds) {
      return {400, error_body(400, reason(400),
                              "The time interval must be smaller than 2 days", req.path)};
    }
    const auto airport = upper(rec.airport);
    std::vector<fake_flight> found;
    for (const auto& f : flights) {
      const bool here = endpoint == opensky_endpoint::arrival ? f.arrival == airport
                                                              : f.departure == airport;
      const auto t = endpoint == opensky_endpoint::arrival ? f.last_seen : f.first_seen;
      if (here && *begin <= t && t <= *end) found.push_back(f);
    }
    if (gen) {
      // Generating is pure; the lock is kept only for simplicity (it is fast).
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      auto more = gen->flights(endpoint, airport, *begin, *end, now);
      found.insert(found.end(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
    }
    if (found.empty()) {
      return {404, error_body(404, reason(404), "No flights found for the given time interval",
                              req.path)};
    }
    rec.flights = found.size();
    return {200, to_opensky_json(found)};
  };
  auto out = answer();
  if (credits) out.with_header("X-Rate-Limit-Remaining", std::to_string(*credits));
  out.with_delay(delay);
  rec.status = out.status;
  recorded.push_back(std::move(rec));
  answered_cv.notify_all();
  return out;
}

fake_opensky::fake_opensky(std::uint16_t port)
    : state_{std::make_shared<state>()}, server_{port} {
  auto* s = state_.get();  // server_ is destroyed (and stopped) before state_
  server_.on("POST", token_path, [s](const request& req) { return s->token(req); });
  server_.on("GET", "/api/flights/arrival", [s](const request& req) {
    return s->flights_endpoint(opensky_endpoint::arrival, req);
  });
  server_.on("GET", "/api/flights/departure", [s](const request& req) {
    return s->flights_endpoint(opensky_endpoint::departure, req);
  });
}

fake_opensky::~fake_opensky() = default;

std::string fake_opensky::url() const { return server_.url() + "/api"; }
std::string fake_opensky::token_url() const { return server_.url() + token_path; }
std::uint16_t fake_opensky::port() const { return server_.port(); }

void fake_opensky::add_flight(fake_flight f) {
  std::lock_guard lock{state_->mutex};
  state_->flights.push_back(std::move(f));
}

void fake_opensky::add_arrival(const std::string& airport, fake_flight f) {
  f.arrival = airport;
  add_flight(std::move(f));
}

void fake_opensky::add_departure(const std::string& airport, fake_flight f) {
  f.departure = airport;
  add_flight(std::move(f));
}

void fake_opensky::clear_flights() {
  std::lock_guard lock{state_->mutex};
  state_->flights.clear();
}

void fake_opensky::set_generator(std::shared_ptr<const traffic_generator> generator) {
  std::lock_guard lock{state_->mutex};
  state_->generator = std::move(generator);
}

void fake_opensky::require_credentials(std::string client_id, std::string client_secret) {
  std::lock_guard lock{state_->mutex};
  state_->credentials.emplace(std::move(client_id), std::move(client_secret));
}

void fake_opensky::set_token_lifetime(std::chrono::seconds lifetime) {
  std::lock_guard lock{state_->mutex};
  state_->token_lifetime = lifetime;
}

void fake_opensky::expire_tokens() {
  std::lock_guard lock{state_->mutex};
  state_->tokens.clear();
}

std::size_t fake_opensky::token_request_count() const {
  std::lock_guard lock{state_->mutex};
  return state_->token_requests;
}

std::size_t fake_opensky::tokens_issued() const {
  std::lock_guard lock{state_->mutex};
  return state_->tokens_issued;
}

void fake_opensky::fail_next(std::size_t n, unsigned status) {
  std::lock_guard lock{state_->mutex};
  for (std::size_t i = 0; i < n; ++i) state_->failures.push_back({status, 0});
}

void fake_opensky::rate_limit_next(std::size_t n, long retry_after_seconds) {
  std::lock_guard lock{state_->mutex};
  for (std::size_t i = 0; i < n; ++i) state_->failures.push_back({429, retry_after_seconds});
}

void fake_opensky::clear_scripted_failures() {
  std::lock_guard lock{state_->mutex};
  state_->failures.clear();
  state_->token_failures.clear();
}

void fake_opensky::fail_token_next(std::size_t n, unsigned status) {
  std::lock_guard lock{state_->mutex};
  for (std::size_t i = 0; i < n; ++i) state_->token_failures.push_back(status);
}

void fake_opensky::set_remaining_credits(std::optional<std::int64_t> credits) {
  std::lock_guard lock{state_->mutex};
  state_->credits = credits;
}

void fake_opensky::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock{state_->mutex};
  state_->delay = delay;
}

void fake_opensky::stop() { server_.stop(); }
void fake_opensky::start() { server_.start(); }
bool fake_opensky::running() const { return server_.running(); }

std::vector<fake_opensky::flight_request> fake_opensky::flight_requests() const {
  std::lock_guard lock{state_->mutex};
  return state_->recorded;
}

std::size_t fake_opensky::flight_request_count() const {
  std::lock_guard lock{state_->mutex};
  return state_->recorded.size();
}

std::size_t fake_opensky::request_count() const { return server_.request_count(); }

bool fake_opensky::wait_for_flight_requests(std::size_t count,
                                            std::chrono::milliseconds timeout) const {
  std::unique_lock lock{state_->mutex};
  return state_->answered_cv.wait_for(lock, timeout,
                                      [&] { return state_->recorded.size() >= count; });
}

void fake_opensky::clear_requests() {
  server_.clear();
  std::lock_guard lock{state_->mutex};
  state_->recorded.clear();
  state_->token_requests = 0;
  state_->tokens_issued = 0;
}

scripted_http_server& fake_opensky::server() { return server_; }

}  // namespace fw::test
