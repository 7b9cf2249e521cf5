#pragma once

// A fake OpenSky Network REST API for tests and the offline demo, built on
// scripted_http_server. It speaks OpenSky's wire format:
//
//   POST {token_url()}  form grant_type=client_credentials&client_id=..&client_secret=..
//        -> 200 {"access_token":"..","expires_in":1800,"token_type":"Bearer",...}
//   GET  {url()}/flights/arrival?airport=EDDF&begin=<unix>&end=<unix>
//   GET  {url()}/flights/departure?airport=EDDF&begin=<unix>&end=<unix>
//        -> 200 JSON array of flight objects (callsign padded to 8 with spaces,
//           unknown fields null), 404 when no flight matches, 400 when a parameter
//           is missing or malformed, begin > end, or end - begin > 2 days.
//
// Arrivals match on estArrivalAirport == airport and begin <= lastSeen <= end;
// departures on estDepartureAirport == airport and begin <= firstSeen <= end.
//
// Authentication: anonymous access is allowed until require_credentials(); a
// Bearer token that is presented must always be valid (else 401). Failure
// scripting, delays and the credits header apply to the flights endpoints only
// (fail_token_next() scripts the token endpoint).
//
// Thread-safe: every member may be called while requests are being served
// (handlers run on the server's io thread).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/fakes/scripted_http_server.hpp"

namespace fw::test {

enum class opensky_endpoint { arrival, departure };

/// "arrival" / "departure" (the last segment of the path).
const char* to_string(opensky_endpoint e);

/// One flight as OpenSky reports it; nullopt fields are sent as JSON null.
struct fake_flight {
  std::string icao24;                     // "3c675a"
  std::int64_t first_seen = 0;            // unix seconds
  std::int64_t last_seen = 0;
  std::optional<std::string> departure;   // estDepartureAirport
  std::optional<std::string> arrival;     // estArrivalAirport
  std::optional<std::string> callsign;    // unpadded; sent padded to 8 with spaces
  std::optional<std::int64_t> departure_horiz_distance;  // estDepartureAirportHorizDistance
  std::optional<std::int64_t> departure_vert_distance;   // estDepartureAirportVertDistance
  std::optional<std::int64_t> arrival_horiz_distance;    // estArrivalAirportHorizDistance
  std::optional<std::int64_t> arrival_vert_distance;     // estArrivalAirportVertDistance
  std::optional<std::int64_t> departure_candidates;      // departureAirportCandidatesCount
  std::optional<std::int64_t> arrival_candidates;        // arrivalAirportCandidatesCount

  // Constructors rather than an aggregate: partial brace-init trips
  // -Wmissing-field-initializers (-Wextra -Werror).
  fake_flight() = default;
  fake_flight(std::string icao24_hex, std::int64_t first, std::int64_t last,
              std::optional<std::string> departure_airport,
              std::optional<std::string> arrival_airport,
              std::optional<std::string> call_sign = std::nullopt)
      : icao24{std::move(icao24_hex)},
        first_seen{first},
        last_seen{last},
        departure{std::move(departure_airport)},
        arrival{std::move(arrival_airport)},
        callsign{std::move(call_sign)} {}

  friend bool operator==(const fake_flight&, const fake_flight&) = default;
};

/// The OpenSky JSON of one flight / an array of flights.
std::string to_opensky_json(const fake_flight& f);
std::string to_opensky_json(const std::vector<fake_flight>& flights);

/// Plausible, deterministic traffic for the offline demo: for every listed airport
/// ~100-800 movements a day (by airport size), more by day than at night (local
/// time estimated from the longitude), realistic icao24 addresses per airline
/// (the airline's country block, a fleet that recurs), callsigns such as "DLH4AB"
/// or "RYR1234", counterparts among other airports with flight times from the
/// great-circle distance. Computed on demand from the interval: the same
/// (seed, airport, interval) always yields the same flights. Each airport's
/// streams are independent (a departure from EDDF to LIRF need not appear as a
/// LIRF arrival).
class traffic_generator {
 public:
  /// airports: ICAO codes (upper case) that have traffic; others have none.
  /// available_from: no flight is seen before this unix time (the demo uses
  /// "start - 7 days"); flights are only reported once they have landed (lastSeen
  /// <= now), so traffic keeps appearing as time passes.
  traffic_generator(std::vector<std::string> airports, std::uint64_t seed,
                    std::int64_t available_from);

  /// Flights of the endpoint's kind at airport with the event time (lastSeen for
  /// arrivals, firstSeen for departures) in [begin, end], landed by now; sorted by
  /// that time.
  std::vector<fake_flight> flights(opensky_endpoint endpoint, const std::string& airport,
                                   std::int64_t begin, std::int64_t end,
                                   std::int64_t now) const;

  /// Expected movements (arrivals + departures) a day at airport; 0 if not listed.
  int daily_movements(const std::string& airport) const;

  const std::vector<std::string>& airports() const { return airports_; }
  std::uint64_t seed() const { return seed_; }
  std::int64_t available_from() const { return available_from_; }

  /// The airports the demo serves when none are given.
  static std::vector<std::string> default_airports();

 private:
  std::vector<std::string> airports_;
  std::uint64_t seed_;
  std::int64_t available_from_;
};

class fake_opensky {
 public:
  /// What the fake recorded of one flights request.
  struct flight_request {
    opensky_endpoint endpoint = opensky_endpoint::arrival;
    std::string airport;       // as sent ("" if missing)
    std::int64_t begin = 0;    // 0 if missing or malformed
    std::int64_t end = 0;
    bool had_bearer = false;   // an "Authorization: Bearer ..." header was sent
    bool bearer_valid = false; // ... with a token the fake issued and still accepts
    unsigned status = 0;       // what the fake answered
    std::size_t flights = 0;   // flights in a 200 answer
  };

  /// Starts listening at once; port 0 picks a free port.
  explicit fake_opensky(std::uint16_t port = 0);
  ~fake_opensky();
  fake_opensky(const fake_opensky&) = delete;
  fake_opensky& operator=(const fake_opensky&) = delete;

  /// opensky.base_url: "http://127.0.0.1:PORT/api".
  std::string url() const;
  /// opensky.auth_url: "http://127.0.0.1:PORT/auth/realms/opensky-network/protocol/openid-connect/token".
  std::string token_url() const;
  std::uint16_t port() const;

  // --- data -------------------------------------------------------------------
  /// Served as an arrival at *f.arrival and as a departure at *f.departure.
  void add_flight(fake_flight f);
  /// add_flight with estArrivalAirport / estDepartureAirport set to airport.
  void add_arrival(const std::string& airport, fake_flight f);
  void add_departure(const std::string& airport, fake_flight f);
  void clear_flights();
  /// Also serve generated traffic (in addition to added flights); "now" is the
  /// wall clock at each request. nullptr switches it off.
  void set_generator(std::shared_ptr<const traffic_generator> generator);

  // --- authentication -----------------------------------------------------------
  /// From now on the token endpoint only accepts this client (else 401
  /// invalid_client) and the flights endpoints need a valid Bearer token.
  void require_credentials(std::string client_id, std::string client_secret);
  /// expires_in of tokens issued from now on (default 1800 s); a token is
  /// rejected once that time has passed.
  void set_token_lifetime(std::chrono::seconds lifetime);
  /// Invalidates every token issued so far (the next flights call gets 401).
  void expire_tokens();
  std::size_t token_request_count() const;  // every POST to the token endpoint
  std::size_t tokens_issued() const;        // successful ones

  // --- failure scripting (flights endpoints) -----------------------------------
  /// The next n flights requests answer status (e.g. 500, 503) with a small body.
  void fail_next(std::size_t n, unsigned status = 500);
  /// The next n flights requests answer 429 with X-Rate-Limit-Retry-After-Seconds.
  void rate_limit_next(std::size_t n, long retry_after_seconds);
  /// Scripted failures queue up in call order (fail_next then rate_limit_next:
  /// first the failures, then the 429s).
  void clear_scripted_failures();
  /// The next n token requests answer status (e.g. 503).
  void fail_token_next(std::size_t n, unsigned status = 503);
  /// X-Rate-Limit-Remaining: k on every flights answer; nullopt: no header.
  void set_remaining_credits(std::optional<std::int64_t> credits);
  /// Every flights answer is sent this late (other connections go on).
  void set_delay(std::chrono::milliseconds delay);
  /// Outage: closes the listener and every connection / listens again on the same port.
  void stop();
  void start();
  bool running() const;

  // --- introspection ----------------------------------------------------------
  std::vector<flight_request> flight_requests() const;  // in arrival order
  std::size_t flight_request_count() const;
  std::size_t request_count() const;  // every HTTP request, token ones included
  /// True once at least count flights requests were answered.
  bool wait_for_flight_requests(std::size_t count, std::chrono::milliseconds timeout) const;
  /// Forgets recorded requests and the token request counters.
  void clear_requests();

  /// The underlying server, for anything not covered here.
  scripted_http_server& server();

  static constexpr const char* token_path =
      "/auth/realms/opensky-network/protocol/openid-connect/token";
  static constexpr std::int64_t max_interval_seconds = 2 * 24 * 3600;

  struct state;

 private:
  std::shared_ptr<state> state_;
  scripted_http_server server_;
};

}  // namespace fw::test
