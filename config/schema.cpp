#include "config/schema.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace fw::config {

namespace {

std::string parse_into(std::string& out, const std::string& text) {
  out = text;
  return {};
}

template <class Int>
std::string parse_int(Int& out, const std::string& text, Int min, Int max) {
  std::uint64_t value = 0;
  auto* end = text.data() + text.size();
  auto [ptr, err] = std::from_chars(text.data(), end, value);
  if (text.empty() || err != std::errc{} || ptr != end || value < min || value > max)
    return "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max)
           + "], got '" + text + "'";
  out = static_cast<Int>(value);
  return {};
}

std::string parse_into(std::uint16_t& out, const std::string& text) {
  return parse_int<std::uint16_t>(out, text, 1, 65535);
}

std::string parse_into(unsigned& out, const std::string& text) {
  return parse_int<unsigned>(out, text, 0, 100000);
}

std::string parse_into(std::uint64_t& out, const std::string& text) {
  return parse_int<std::uint64_t>(out, text, 1, std::numeric_limits<std::uint32_t>::max());
}

std::string parse_into(bool& out, const std::string& text) {
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    out = true;
    return {};
  }
  if (text == "false" || text == "no" || text == "off" || text == "0") {
    out = false;
    return {};
  }
  return "expected true or false, got '" + text + "'";
}

std::string parse_into(duration& out, const std::string& text) {
  if (auto d = parse_duration(text)) {
    out = *d;
    return {};
  }
  return "expected a duration such as 300, 300ms, 30s, 5m, 4h, got '" + text + "'";
}

std::string parse_into(std::vector<std::string>& out, const std::string& text) {
  out.clear();
  std::string item;
  auto flush = [&] {
    auto first = item.find_first_not_of(" \t");
    auto last = item.find_last_not_of(" \t");
    if (first != std::string::npos)
      out.push_back(item.substr(first, last - first + 1));
    item.clear();
  };
  for (char c : text) {
    if (c == ',')
      flush();
    else
      item += c;
  }
  flush();
  return {};
}

std::string show(const std::string& x) {
  return x;
}
std::string show(std::uint16_t x) {
  return std::to_string(x);
}
std::string show(unsigned x) {
  return std::to_string(x);
}
std::string show(std::uint64_t x) {
  return std::to_string(x);
}
std::string show(bool x) {
  return x ? "true" : "false";
}
std::string show(duration x) {
  auto ms = x.count();
  if (ms % 1000 != 0)
    return std::to_string(ms) + "ms";
  return std::to_string(ms / 1000) + "s";
}
std::string show(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) {
    if (!out.empty())
      out += ",";
    out += x;
  }
  return out;
}

/// One row binding `section.key` to `settings.*group.*field`.
template <class Group, class Field>
key_spec row(std::string section, std::string key, Group settings::*group, Field Group::*field,
             bool secret = false) {
  key_spec spec;
  spec.section = std::move(section);
  spec.key = std::move(key);
  spec.secret = secret;
  spec.list = std::is_same_v<Field, std::vector<std::string>>;
  spec.assign = [group, field](settings& s, const std::string& text) {
    return parse_into(s.*group.*field, text);
  };
  spec.show = [group, field](const settings& s) { return show(s.*group.*field); };
  return spec;
}

std::vector<key_spec> make_schema() {
  using s = settings;
  return {
    row("node", "name", &s::node, &node_settings::name),
    row("node", "roles", &s::node, &node_settings::roles),
    row("node", "scheduler_threads", &s::node, &node_settings::scheduler_threads),
    row("node", "scheduler_policy", &s::node, &node_settings::scheduler_policy),
    row("node", "max_restarts", &s::node, &node_settings::max_restarts),
    row("node", "restart_window", &s::node, &node_settings::restart_window),
    row("node", "restart_backoff", &s::node, &node_settings::restart_backoff),
    row("node", "restart_backoff_max", &s::node, &node_settings::restart_backoff_max),
    row("node", "shutdown_timeout", &s::node, &node_settings::shutdown_timeout),
    row("gateway", "host", &s::gateway, &gateway_settings::host),
    row("gateway", "port", &s::gateway, &gateway_settings::port),
    row("gateway", "io_threads", &s::gateway, &gateway_settings::io_threads),
    row("gateway", "max_body_bytes", &s::gateway, &gateway_settings::max_body_bytes),
    row("gateway", "max_header_bytes", &s::gateway, &gateway_settings::max_header_bytes),
    row("gateway", "max_connections", &s::gateway, &gateway_settings::max_connections),
    row("gateway", "request_timeout", &s::gateway, &gateway_settings::request_timeout),
    row("gateway", "idle_timeout", &s::gateway, &gateway_settings::idle_timeout),
    row("gateway", "drain_timeout", &s::gateway, &gateway_settings::drain_timeout),
    row("gateway", "access_log", &s::gateway, &gateway_settings::access_log),
    row("gateway", "tls_cert_file", &s::gateway, &gateway_settings::tls_cert_file),
    row("gateway", "tls_key_file", &s::gateway, &gateway_settings::tls_key_file),
    row("gateway", "tls_port", &s::gateway, &gateway_settings::tls_port),
    row("storage", "url", &s::storage, &storage_settings::url, true),
    row("storage", "pool_size", &s::storage, &storage_settings::pool_size),
    row("storage", "timeout", &s::storage, &storage_settings::timeout),
    row("user_manager", "idempotency_ttl", &s::user_manager,
        &user_manager_settings::idempotency_ttl),
    row("user_manager", "idempotency_in_progress_timeout", &s::user_manager,
        &user_manager_settings::idempotency_in_progress_timeout),
    row("user_manager", "idempotency_purge_interval", &s::user_manager,
        &user_manager_settings::idempotency_purge_interval),
    row("opensky", "base_url", &s::opensky, &opensky_settings::base_url),
    row("opensky", "auth_url", &s::opensky, &opensky_settings::auth_url),
    row("opensky", "client_id", &s::opensky, &opensky_settings::client_id),
    row("opensky", "client_secret", &s::opensky, &opensky_settings::client_secret, true),
    row("opensky", "timeout", &s::opensky, &opensky_settings::timeout),
    row("opensky", "breaker_failures", &s::opensky, &opensky_settings::breaker_failures),
    row("opensky", "breaker_open", &s::opensky, &opensky_settings::breaker_open),
    row("collector", "interval", &s::collector, &collector_settings::interval),
    row("collector", "window", &s::collector, &collector_settings::window),
    row("collector", "max_in_flight", &s::collector, &collector_settings::max_in_flight),
    row("collector", "query_cache_ttl", &s::collector, &collector_settings::query_cache_ttl),
    row("collector", "query_cache_mib", &s::collector, &collector_settings::query_cache_mib),
    row("telegram", "api_url", &s::telegram, &telegram_settings::api_url),
    row("telegram", "bot_token", &s::telegram, &telegram_settings::bot_token, true),
    row("telegram", "timeout", &s::telegram, &telegram_settings::timeout),
    row("telegram", "per_chat_interval", &s::telegram, &telegram_settings::per_chat_interval),
    row("telegram", "global_per_second", &s::telegram, &telegram_settings::global_per_second),
    row("telegram", "max_attempts", &s::telegram, &telegram_settings::max_attempts),
    row("telegram", "poll_timeout", &s::telegram, &telegram_settings::poll_timeout),
    row("kafka", "brokers", &s::kafka, &kafka_settings::brokers),
    row("kafka", "group_prefix", &s::kafka, &kafka_settings::group_prefix),
    row("kafka", "buffer_max_messages", &s::kafka, &kafka_settings::buffer_max_messages),
    row("kafka", "max_in_flight", &s::kafka, &kafka_settings::max_in_flight),
    row("kafka", "fetch_wait", &s::kafka, &kafka_settings::fetch_wait),
    row("kafka", "linger", &s::kafka, &kafka_settings::linger),
    row("alerts", "repeat_interval", &s::alerts, &alerts_settings::repeat_interval),
    row("notifier", "admins", &s::notifier, &notifier_settings::admins),
    row("sla", "config_file", &s::sla, &sla_settings::config_file),
    row("cluster", "port", &s::cluster, &cluster_settings::port),
    row("cluster", "host", &s::cluster, &cluster_settings::host),
    row("cluster", "advertise", &s::cluster, &cluster_settings::advertise),
    row("cluster", "seeds", &s::cluster, &cluster_settings::seeds),
    row("cluster", "heartbeat", &s::cluster, &cluster_settings::heartbeat),
    row("cluster", "connection_timeout", &s::cluster, &cluster_settings::connection_timeout),
    row("cluster", "tls_cert_file", &s::cluster, &cluster_settings::tls_cert_file),
    row("cluster", "tls_key_file", &s::cluster, &cluster_settings::tls_key_file),
    row("cluster", "tls_ca_file", &s::cluster, &cluster_settings::tls_ca_file),
    row("log", "level", &s::log, &log_settings::level),
  };
}

} // namespace

std::string key_spec::env_name() const {
  std::string out = "FW_" + section + "_" + key;
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return c == '-' ? '_' : std::toupper(c); });
  return out;
}

const std::vector<key_spec>& schema() {
  static const auto table = make_schema();
  return table;
}

} // namespace fw::config
