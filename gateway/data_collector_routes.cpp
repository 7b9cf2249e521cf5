#include "gateway/data_collector_routes.hpp"

#include "actors/data_collector/interest_rules.hpp"
#include "actors/data_collector/kept_answers.hpp"
#include "gateway/route_helpers.hpp"
#include "messages/json.hpp"

namespace fw::gateway {

namespace {

constexpr const char* role = "data-collector";

/// {"email","airport_code","high_value"?,"low_value"?} as an interest.
std::variant<interest, bad_input> interest_body(const request_context& c, bool thresholds) {
  auto body = json_object(c);
  if (auto* bad = std::get_if<bad_input>(&body))
    return *bad;
  const auto& j = std::get<nlohmann::json>(body);
  interest i;
  if (auto err = string_field(j, "email", true, i.user_email))
    return *err;
  if (auto err = string_field(j, "airport_code", true, i.airport_code))
    return *err;
  if (thresholds) {
    if (auto err = optional_int_field(j, "high_value", i.high_value))
      return *err;
    if (auto err = optional_int_field(j, "low_value", i.low_value))
      return *err;
  }
  return i;
}

auto message(std::string text) {
  return [text = std::move(text)](const auto&) { return nlohmann::json{{"message", text}}; };
}

/// The answer the local data-collector keeps for `key` as a `T` (the kind its key names),
/// while it may be served here on the I/O thread (kept_answers.hpp) and `usable` accepts
/// it; counted as a hit of the role's cache.
template <class T, class Usable>
std::shared_ptr<const T> kept(const route_services& svc, const std::string& key,
                              Usable usable) {
  if (!svc.ctx || !svc.ctx->kept_answers)
    return nullptr;
  auto answer = svc.ctx->kept_answers->find(key, data_collector::kept_answers::clock::now());
  const T* x = answer ? std::get_if<T>(answer.get()) : nullptr;
  if (!x || !usable(*x))
    return nullptr;
  svc.ctx->kept_answers->count_hit();
  return {std::move(answer), x}; // shares the answer's ownership
}

constexpr auto any_answer = [](const auto&) { return true; };

// Each of these is null when nothing may be served here, an invalid query included: the
// role then answers, with the 400 reason.

std::shared_ptr<const data_collector::list_body> kept_page(const route_services& svc,
                                                           flight_query q) {
  if (data_collector::check_flight_query(q))
    return nullptr;
  return kept<data_collector::list_body>(svc, data_collector::list_key(q), any_answer);
}

std::shared_ptr<const std::string> kept_average(const route_services& svc, std::string airport,
                                                const std::string& type, std::int64_t days) {
  if (data_collector::check_airport(airport) || data_collector::check_flight_type(type))
    return nullptr;
  return kept<std::string>(svc, data_collector::average_key(airport, type, days), any_answer);
}

/// Only a flight: "none" is a 404, which the role words.
std::shared_ptr<const std::optional<flight>> kept_last(const route_services& svc,
                                                       std::string airport,
                                                       const std::string& type) {
  if (data_collector::check_airport(airport) || data_collector::check_flight_type(type))
    return nullptr;
  return kept<std::optional<flight>>(svc, data_collector::last_key(airport, type),
                                     [](const std::optional<flight>& f) { return f.has_value(); });
}

} // namespace

void add_data_collector_routes(router& r, const route_services& svc) {
  r.add(http::verb::post, "/data-collector/interests", role,
        [svc](request_context& c, reply_fn reply) {
          auto i = interest_body(c, true);
          if (auto* bad = std::get_if<bad_input>(&i))
            return reply(bad_request(c, *bad));
          answer<interest>(svc, role, c, std::move(reply), http::status::created,
                           message("Interest added and data fetch initiated"),
                           add_interest_atom::value, std::get<interest>(std::move(i)));
        });
  r.add(http::verb::put, "/data-collector/interests", role,
        [svc](request_context& c, reply_fn reply) {
          auto i = interest_body(c, true);
          if (auto* bad = std::get_if<bad_input>(&i))
            return reply(bad_request(c, *bad));
          answer<interest>(svc, role, c, std::move(reply), http::status::ok,
                           message("Interest updated successfully"), update_interest_atom::value,
                           std::get<interest>(std::move(i)));
        });
  r.add(http::verb::delete_, "/data-collector/interests", role,
        [svc](request_context& c, reply_fn reply) {
          auto i = interest_body(c, false);
          if (auto* bad = std::get_if<bad_input>(&i))
            return reply(bad_request(c, *bad));
          auto& x = std::get<interest>(i);
          answer<bool>(svc, role, c, std::move(reply), http::status::ok,
                       message("Interest removed successfully"), remove_interest_atom::value,
                       std::move(x.user_email), std::move(x.airport_code));
        });
  r.add(http::verb::get, "/data-collector/interests/{email}", role,
        [svc](request_context& c, reply_fn reply) {
          answer<std::vector<interest>>(svc, role, c, std::move(reply), http::status::ok, as_json,
                                        list_interests_atom::value, c.params.at("email"));
        });
  r.add(http::verb::get, "/data-collector/flights/{airport}", role,
        [svc](request_context& c, reply_fn reply) {
          flight_query q;
          q.airport_code = c.params.at("airport");
          q.type = text_param(c, "type");
          q.limit = data_collector::default_flight_limit;
          for (auto err : {int_param(c, "limit", q.limit), int_param(c, "since", q.since),
                           int_param(c, "until", q.until)})
            if (err)
              return reply(bad_request(c, *err));
          const bool gzip = accepts_gzip(c);
          if (auto page = kept_page(svc, q)) {
            // Sent from the kept page itself: the response shares it, no copy.
            auto r = data_collector::representation_for(*page, gzip);
            std::shared_ptr<const std::string> text{page, &r.content};
            return reply(json_body_response(std::move(text), r.gzip, c.req.version(),
                                            c.req.keep_alive()));
          }
          answer_json_body(svc, role, c, std::move(reply), list_flights_atom::value,
                           std::move(q), gzip);
        });
  r.add(http::verb::get, "/data-collector/flights/average/{icao}", role,
        [svc](request_context& c, reply_fn reply) {
          std::int64_t days = data_collector::default_average_days;
          if (auto err = int_param(c, "days", days))
            return reply(bad_request(c, *err));
          if (auto text = kept_average(svc, c.params.at("icao"), text_param(c, "type"), days))
            return reply(json_text_response(http::status::ok, std::move(text), c.req.version(),
                                            c.req.keep_alive()));
          answer_json_text(svc, role, c, std::move(reply), average_flights_atom::value,
                           c.params.at("icao"), text_param(c, "type"), days);
        });
  r.add(http::verb::get, "/data-collector/flights/last/{icao}", role,
        [svc](request_context& c, reply_fn reply) {
          if (auto last = kept_last(svc, c.params.at("icao"), text_param(c, "type")))
            return reply(json_text_response(http::status::ok, to_json_text(**last),
                                            c.req.version(), c.req.keep_alive()));
          answer<flight>(svc, role, c, std::move(reply), http::status::ok, as_json_text,
                         last_flight_atom::value, c.params.at("icao"), text_param(c, "type"));
        });
}

} // namespace fw::gateway
