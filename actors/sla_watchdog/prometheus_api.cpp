#include "actors/sla_watchdog/prometheus_api.hpp"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>

namespace fw::sla {

namespace {

prometheus_sample not_a_sample(std::string outcome, std::string why) {
  return {std::move(outcome), 0, std::move(why)};
}

/// A sample pair [unix time, "value"] as Prometheus encodes it.
prometheus_sample from_pair(const nlohmann::json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string())
    return not_a_sample("unreachable", "unexpected sample shape in Prometheus' answer");
  const auto text = pair[1].get<std::string>();
  if (text == "NaN")
    return not_a_sample("nan", "the query returned NaN");
  double value = 0;
  try {
    size_t used = 0;
    value = std::stod(text, &used);
    if (used != text.size())
      throw std::invalid_argument{text};
  } catch (const std::exception&) {
    return not_a_sample("unreachable", "unreadable sample value '" + text + "'");
  }
  if (!std::isfinite(value))
    return not_a_sample("nan", "the query returned " + text);
  return {"value", value, {}};
}

} // namespace

std::optional<duration> parse_prometheus_duration(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  std::int64_t total_ms = 0;
  while (!text.empty()) {
    std::int64_t n = 0;
    auto [ptr, err] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (err != std::errc{} || ptr == text.data() || n < 0)
      return std::nullopt;
    text.remove_prefix(static_cast<size_t>(ptr - text.data()));
    std::int64_t unit_ms = 0;
    // Longest unit first: "ms" before "m".
    for (auto [name, ms] : {std::pair{"ms", 1LL},
                            {"s", 1000LL},
                            {"m", 60'000LL},
                            {"h", 3'600'000LL},
                            {"d", 86'400'000LL},
                            {"w", 604'800'000LL},
                            {"y", 31'536'000'000LL}}) {
      std::string_view unit{name};
      if (text.substr(0, unit.size()) == unit) {
        unit_ms = ms;
        text.remove_prefix(unit.size());
        break;
      }
    }
    if (unit_ms == 0 || n > std::int64_t{1} << 40)
      return std::nullopt;
    total_ms += n * unit_ms;
  }
  return duration{total_ms};
}

prometheus_sample parse_query_reply(long http_status, const std::string& body) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception&) {
    return not_a_sample("unreachable",
                        "HTTP " + std::to_string(http_status) + " without a Prometheus answer");
  }
  if (!j.is_object())
    return not_a_sample("unreachable", "not a Prometheus answer");
  if (j.value("status", "") != "success") {
    const auto type = j.value("errorType", "");
    const auto error = j.value("error", "");
    // bad_data: the PromQL does not parse; execution: it cannot be evaluated.
    if (type == "bad_data" || type == "execution")
      return not_a_sample("bad_query", error.empty() ? type : error);
    return not_a_sample("unreachable", "Prometheus answered " + (type.empty() ? "an error" : type) +
                                           (error.empty() ? "" : ": " + error));
  }
  const auto& data = j.value("data", nlohmann::json::object());
  const auto type = data.value("resultType", "");
  const auto& result = data.value("result", nlohmann::json::array());
  if (type == "scalar")
    return from_pair(result);
  if (type == "vector") {
    if (!result.is_array() || result.empty())
      return not_a_sample("empty", "the query returned no series");
    return from_pair(result[0].value("value", nlohmann::json{}));
  }
  return not_a_sample("bad_query", "the query returns a " + (type.empty() ? "?" : type) +
                                       ", not an instant vector or a scalar");
}

std::optional<duration> parse_scrape_interval(const std::string& body) {
  try {
    auto j = nlohmann::json::parse(body);
    if (j.value("status", "") != "success")
      return std::nullopt;
    auto yaml = YAML::Load(j.at("data").at("yaml").get<std::string>());
    auto interval = yaml["global"]["scrape_interval"];
    if (!interval || !interval.IsScalar())
      return default_scrape_interval;
    auto d = parse_prometheus_duration(interval.Scalar());
    if (!d || d->count() <= 0)
      return std::nullopt;
    return d;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace fw::sla
