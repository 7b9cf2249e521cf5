#include "config/sla_document.hpp"

#include "config/text_file.hpp"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>
#include <sstream>

namespace fw {

namespace {

using nlohmann::json;

constexpr size_t max_name_length = 128;
constexpr size_t max_query_length = 4096;
constexpr size_t max_metrics = 200;
constexpr double max_t_check_seconds = 86400;

/// Thrown by the readers below with the field's path; caught once in sla_from_json.
struct field_error {
  std::string text;
};

[[noreturn]] void fail(const std::string& where, const std::string& why) {
  throw field_error{where + ": " + why};
}

void reject_unknown_keys(const json& obj, const std::string& where,
                         const std::set<std::string>& known) {
  for (const auto& [key, value] : obj.items())
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known)
        list += (list.empty() ? "" : ", ") + k;
      fail(where.empty() ? key : where + "." + key, "unknown key (known: " + list + ")");
    }
}

std::string text(const json& obj, const char* key, const std::string& where, size_t max_len) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    fail(where + "." + key, "required");
  if (!it->is_string())
    fail(where + "." + key, "expected a string");
  auto value = it->get<std::string>();
  if (value.empty())
    fail(where + "." + key, "must not be empty");
  if (value.size() > max_len)
    fail(where + "." + key, "longer than " + std::to_string(max_len) + " characters");
  for (unsigned char c : value)
    if (c < 0x20)
      fail(where + "." + key, "must not contain control characters");
  return value;
}

double number(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    fail(where + "." + key, "required");
  if (!it->is_number())
    fail(where + "." + key, "expected a number");
  auto value = it->get<double>();
  if (!std::isfinite(value))
    fail(where + "." + key, "must be finite");
  return value;
}

sla_metric read_metric(const json& j, const std::string& where) {
  if (!j.is_object())
    fail(where, "expected an object {name, type, query, min, max}");
  reject_unknown_keys(j, where, {"name", "type", "query", "min", "max"});
  sla_metric m;
  m.name = text(j, "name", where, max_name_length);
  if (j.contains("type") && !j.at("type").is_null()) {
    m.type = text(j, "type", where, max_name_length);
    if (m.type != "gauge")
      fail(where + ".type", "only gauge metrics are supported, got '" + m.type + "'");
  }
  m.query = text(j, "query", where, max_query_length);
  m.min = number(j, "min", where);
  m.max = number(j, "max", where);
  if (m.min > m.max)
    fail(where + ".min", "must not exceed max");
  return m;
}

duration read_t_check(const json& j) {
  const std::string where = "settings.t_check";
  if (j.is_string()) {
    auto d = parse_duration(j.get<std::string>());
    if (!d)
      fail(where, "expected seconds or a duration such as 80s, 5m");
    if (d->count() <= 0 || *d > std::chrono::hours{24})
      fail(where, "expected more than 0 and at most 1 day");
    return *d;
  }
  if (!j.is_number())
    fail(where, "expected seconds (a number) or a duration such as 80s");
  const double seconds = j.get<double>();
  if (!std::isfinite(seconds) || seconds < 0.001 || seconds > max_t_check_seconds)
    fail(where, "expected more than 0 and at most 86400 seconds");
  return duration{static_cast<duration::rep>(std::llround(seconds * 1000))};
}

void read_settings(const json& j, sla_document& doc) {
  if (!j.is_object())
    fail("settings", "expected an object");
  reject_unknown_keys(j, "settings", {"t_check", "prometheus_url", "kafka_bootstrap_servers",
                                      "kafka_topic", "t_scrape"});
  if (j.contains("t_check"))
    doc.t_check = read_t_check(j.at("t_check"));
  if (j.contains("prometheus_url")) {
    auto url = text(j, "prometheus_url", "settings", 2048);
    auto scheme_end = url.find("://");
    auto scheme = scheme_end == std::string::npos ? std::string{} : url.substr(0, scheme_end);
    if ((scheme != "http" && scheme != "https") || url.size() == scheme_end + 3 ||
        url.find(' ') != std::string::npos)
      fail("settings.prometheus_url", "expected http://host:port or https://host:port");
    while (url.size() > scheme_end + 3 && url.back() == '/')
      url.pop_back();
    doc.prometheus_url = url;
  }
  if (j.contains("kafka_bootstrap_servers") && !j.at("kafka_bootstrap_servers").is_string())
    fail("settings.kafka_bootstrap_servers", "expected a string");
  if (j.contains("kafka_topic") && j.at("kafka_topic") != "sla_breach")
    fail("settings.kafka_topic", "breaches are published on sla_breach; no other topic");
  // Read from Prometheus, never set: GET's document carries it, so a document read and
  // posted back unchanged is accepted, its t_scrape ignored.
  if (j.contains("t_scrape") && !j.at("t_scrape").is_null() && !j.at("t_scrape").is_number())
    fail("settings.t_scrape", "expected a number or null (it is read from Prometheus)");
}

/// YAML to JSON: plain scalars that read as numbers or booleans become numbers and
/// booleans, quoted ones stay strings (so `name: "123"` is a name, `min: 0` a number).
json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Map: {
    json out = json::object();
    for (const auto& kv : node)
      out[kv.first.as<std::string>()] = yaml_to_json(kv.second);
    return out;
  }
  case YAML::NodeType::Sequence: {
    json out = json::array();
    for (const auto& item : node)
      out.push_back(yaml_to_json(item));
    return out;
  }
  case YAML::NodeType::Scalar: {
    const auto& s = node.Scalar();
    if (node.Tag() == "?") {
      if (s == "true" || s == "false")
        return s == "true";
      if (s == "null" || s == "~")
        return nullptr;
      std::istringstream in{s};
      double d = 0;
      if (in >> d && in.peek() == std::char_traits<char>::eof())
        return d;
    }
    return s;
  }
  default:
    return nullptr;
  }
}

} // namespace

sla_parse_result sla_from_json(const nlohmann::json& body, const sla_document& base) {
  sla_parse_result r;
  try {
    if (!body.is_object())
      fail("body", "expected a JSON object {metrics, settings}");
    reject_unknown_keys(body, "", {"metrics", "settings"});
    sla_document doc = base;
    auto it = body.find("metrics");
    if (it == body.end() || !it->is_array())
      fail("metrics", it == body.end() ? "required" : "expected an array");
    if (it->size() > max_metrics)
      fail("metrics", "at most " + std::to_string(max_metrics) + " metrics");
    doc.metrics.clear();
    std::set<std::string> names;
    for (size_t i = 0; i < it->size(); ++i) {
      auto where = "metrics[" + std::to_string(i) + "]";
      auto m = read_metric(it->at(i), where);
      if (!names.insert(m.name).second)
        fail(where + ".name", "'" + m.name + "' is listed twice");
      doc.metrics.push_back(std::move(m));
    }
    if (body.contains("settings"))
      read_settings(body.at("settings"), doc);
    r.value = std::move(doc);
  } catch (const field_error& e) {
    r.error = e.text;
  }
  return r;
}

sla_parse_result load_sla_file(const std::string& path) {
  auto content = read_text_file(path);
  if (!content)
    return {std::nullopt, path + ": cannot read the file"};
  json body;
  try {
    body = yaml_to_json(YAML::Load(*content));
  } catch (const YAML::Exception& e) {
    return {std::nullopt, path + ": not valid YAML: " + e.what()};
  }
  if (!body.is_object() || !body.contains("settings"))
    return {std::nullopt, path + ": settings: required (t_check, prometheus_url)"};
  auto r = sla_from_json(body, sla_document{});
  if (!r.value)
    r.error = path + ": " + r.error;
  return r;
}

nlohmann::json sla_to_json(const sla_document& doc) {
  json metrics = json::array();
  for (const auto& m : doc.metrics)
    metrics.push_back(
        {{"name", m.name}, {"type", m.type}, {"query", m.query}, {"min", m.min}, {"max", m.max}});
  json t_check;
  if (doc.t_check.count() % 1000 == 0)
    t_check = doc.t_check.count() / 1000;
  else
    t_check = static_cast<double>(doc.t_check.count()) / 1000.0;
  return {{"metrics", std::move(metrics)},
          {"settings", {{"t_check", std::move(t_check)}, {"prometheus_url", doc.prometheus_url}}}};
}

} // namespace fw
