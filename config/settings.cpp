#include "config/settings.hpp"

#include "config/cores.hpp"
#include "config/schema.hpp"
#include "config/sla_document.hpp"
#include "config/text_file.hpp"

#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <map>

namespace fw {

using config::key_spec;
using config::schema;

std::optional<duration> parse_duration(const std::string& text) {
  std::uint64_t value = 0;
  auto* end = text.data() + text.size();
  auto [ptr, err] = std::from_chars(text.data(), end, value);
  if (text.empty() || err != std::errc{} || value > 10'000'000'000ULL)
    return std::nullopt;
  std::string_view unit{ptr, static_cast<size_t>(end - ptr)};
  std::uint64_t ms_per_unit = 0;
  if (unit.empty() || unit == "s")
    ms_per_unit = 1000;
  else if (unit == "ms")
    ms_per_unit = 1;
  else if (unit == "m")
    ms_per_unit = 60'000;
  else if (unit == "h")
    ms_per_unit = 3'600'000;
  else if (unit == "d")
    ms_per_unit = 86'400'000;
  else
    return std::nullopt;
  return duration{static_cast<duration::rep>(value * ms_per_unit)};
}

namespace {

std::string read_secret_file(const std::string& path, std::string& error) {
  auto content = read_text_file(path);
  if (!content) {
    error = "cannot read file '" + path + "'";
    return {};
  }
  auto text = std::move(*content);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  return text;
}

const key_spec* find_key(const std::string& section, const std::string& key) {
  for (const auto& spec : schema())
    if (spec.section == section && spec.key == key)
      return &spec;
  return nullptr;
}

/// Applies one textual value; a secret key named "<key>_file" reads the value from a file.
std::string apply(settings& s, const std::string& section, const std::string& key,
                  const std::string& text, const std::string& origin) {
  if (auto* spec = find_key(section, key)) {
    if (auto err = spec->assign(s, text); !err.empty())
      return origin + ": " + err;
    return {};
  }
  constexpr std::string_view suffix = "_file";
  if (key.size() > suffix.size() && key.ends_with(suffix)) {
    auto base = key.substr(0, key.size() - suffix.size());
    if (auto* spec = find_key(section, base); spec && spec->secret) {
      std::string err;
      auto value = read_secret_file(text, err);
      if (err.empty())
        err = spec->assign(s, value);
      return err.empty() ? std::string{} : origin + ": " + err;
    }
  }
  return origin + ": unknown key";
}

std::string apply_yaml(settings& s, const YAML::Node& root) {
  if (root.IsNull())
    return {};
  if (!root.IsMap())
    return "config: the top level must be a map of sections";
  for (const auto& section : root) {
    auto name = section.first.as<std::string>();
    if (!section.second.IsMap()) {
      if (section.second.IsNull())
        continue;
      return name + ": expected a map of keys";
    }
    for (const auto& entry : section.second) {
      auto key = entry.first.as<std::string>();
      auto origin = name + "." + key;
      const auto& value = entry.second;
      std::string text;
      if (value.IsSequence()) {
        auto* spec = find_key(name, key);
        if (spec == nullptr)
          return origin + ": unknown key";
        if (!spec->list)
          return origin + ": expected a single value, got a list";
        for (const auto& item : value) {
          if (!item.IsScalar())
            return origin + ": expected a list of plain values";
          if (!text.empty())
            text += ",";
          text += item.Scalar();
        }
      } else if (value.IsScalar()) {
        text = value.Scalar();
      } else if (value.IsNull()) {
        text = "";
      } else {
        return origin + ": expected a plain value, got a map";
      }
      if (auto err = apply(s, name, key, text, origin); !err.empty())
        return err;
    }
  }
  return {};
}

/// Every FW_* variable must name a key: a typo must not be silently ignored.
std::string apply_environment(settings& s, const std::vector<std::string>& env) {
  std::map<std::string, const key_spec*> by_env;
  for (const auto& spec : schema())
    by_env.emplace(spec.env_name(), &spec);
  auto is_set = [&env](const std::string& name) {
    return std::any_of(env.begin(), env.end(),
                       [&](const std::string& e) { return e.starts_with(name + "="); });
  };
  for (const auto& [name, spec] : by_env)
    if (spec->secret && is_set(name) && is_set(name + "_FILE"))
      return name + ": set either " + name + " or " + name + "_FILE, not both";
  for (const auto& entry : env) {
    if (!entry.starts_with("FW_"))
      continue;
    auto eq = entry.find('=');
    if (eq == std::string::npos)
      continue;
    auto name = entry.substr(0, eq);
    auto value = entry.substr(eq + 1);
    if (auto i = by_env.find(name); i != by_env.end()) {
      if (auto err = i->second->assign(s, value); !err.empty())
        return name + " (" + i->second->dotted() + "): " + err;
      continue;
    }
    if (name.ends_with("_FILE")) {
      auto base = name.substr(0, name.size() - 5);
      if (auto i = by_env.find(base); i != by_env.end() && i->second->secret) {
        std::string err;
        auto text = read_secret_file(value, err);
        if (err.empty())
          err = i->second->assign(s, text);
        if (!err.empty())
          return name + " (" + i->second->dotted() + "): " + err;
        continue;
      }
    }
    return name + ": unknown configuration variable";
  }
  return {};
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0')
    return "node";
  return buf;
}

bool is_http_url(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return false;
  auto scheme = url.substr(0, scheme_end);
  auto rest = url.substr(scheme_end + 3);
  return (scheme == "http" || scheme == "https") && !rest.empty() && rest[0] != '/'
         && rest.find(' ') == std::string::npos;
}

/// Masks the password of a URL ("postgresql://u:pw@h/db") or the whole value.
std::string mask(const std::string& value) {
  if (value.empty())
    return value;
  auto scheme_end = value.find("://");
  auto at = value.find('@');
  if (scheme_end != std::string::npos && at != std::string::npos && at > scheme_end) {
    auto colon = value.find(':', scheme_end + 3);
    if (colon != std::string::npos && colon < at)
      return value.substr(0, colon + 1) + "***" + value.substr(at);
    return value;
  }
  if (scheme_end != std::string::npos)
    return value; // a URL without credentials holds no secret
  return "***";
}

} // namespace

std::optional<std::string> settings::validate() const {
  for (const auto& role : node.roles)
    if (std::find(all_roles().begin(), all_roles().end(), role) == all_roles().end())
      return "node.roles: unknown role '" + role
             + "' (known: user-manager, data-collector, alert-evaluator, notifier, "
               "sla-watchdog, gateway)";
  if (node.roles.empty())
    return "node.roles: at least one role is required";
  if (node.scheduler_policy != "auto" && node.scheduler_policy != "affinity"
      && node.scheduler_policy != "sharing" && node.scheduler_policy != "stealing")
    return "node.scheduler_policy: expected auto, affinity, sharing or stealing, got '"
           + node.scheduler_policy + "'";
  if (node.max_restarts == 0)
    return "node.max_restarts: must be at least 1";
  if (node.restart_window.count() <= 0)
    return "node.restart_window: must be positive";
  if (node.restart_backoff > node.restart_backoff_max)
    return "node.restart_backoff: must not exceed node.restart_backoff_max";
  if (gateway.host.empty())
    return "gateway.host: must not be empty";
  if (gateway.io_threads == 0 || gateway.io_threads > 64)
    return "gateway.io_threads: expected 1 to 64";
  if (gateway.request_timeout.count() <= 0)
    return "gateway.request_timeout: must be positive";
  if (gateway.tls_cert_file.empty() != gateway.tls_key_file.empty())
    return gateway.tls_cert_file.empty() ? "gateway.tls_cert_file: required with tls_key_file"
                                         : "gateway.tls_key_file: required with tls_cert_file";
  if (gateway.tls_enabled() && gateway.tls_port == gateway.port)
    return "gateway.tls_port: must differ from gateway.port";
  if (!storage.url.starts_with("sqlite://") && !storage.url.starts_with("postgresql://")
      && !storage.url.starts_with("postgres://"))
    return "storage.url: expected sqlite:///path/file.db or postgresql://user@host:port/db";
  if (storage.url.starts_with("sqlite://") && storage.url.size() == 9)
    return "storage.url: the SQLite URL names no file";
  if (storage.pool_size == 0 || storage.pool_size > 256)
    return "storage.pool_size: expected 1 to 256";
  if (storage.timeout.count() <= 0)
    return "storage.timeout: must be positive";
  if (user_manager.idempotency_ttl.count() <= 0)
    return "user_manager.idempotency_ttl: must be positive";
  if (user_manager.idempotency_in_progress_timeout.count() <= 0)
    return "user_manager.idempotency_in_progress_timeout: must be positive";
  if (user_manager.idempotency_purge_interval.count() <= 0)
    return "user_manager.idempotency_purge_interval: must be positive";
  if (!is_http_url(opensky.base_url))
    return "opensky.base_url: expected an http(s) URL, got '" + opensky.base_url + "'";
  if (!is_http_url(opensky.auth_url))
    return "opensky.auth_url: expected an http(s) URL, got '" + opensky.auth_url + "'";
  if (opensky.client_id.empty() != opensky.client_secret.empty())
    return "opensky.client_secret: client_id and client_secret go together";
  if (opensky.timeout.count() <= 0)
    return "opensky.timeout: must be positive";
  if (opensky.breaker_failures == 0)
    return "opensky.breaker_failures: must be at least 1";
  if (opensky.breaker_open.count() <= 0)
    return "opensky.breaker_open: must be positive";
  if (collector.interval.count() <= 0)
    return "collector.interval: must be positive";
  if (collector.window.count() < 1000)
    return "collector.window: must be at least 1s";
  if (collector.max_in_flight == 0 || collector.max_in_flight > 64)
    return "collector.max_in_flight: expected 1 to 64";
  if (collector.query_cache_mib == 0 || collector.query_cache_mib > 4096)
    return "collector.query_cache_mib: expected 1 to 4096";
  if (!is_http_url(telegram.api_url))
    return "telegram.api_url: expected an http(s) URL, got '" + telegram.api_url + "'";
  if (telegram.timeout.count() <= 0)
    return "telegram.timeout: must be positive";
  if (telegram.global_per_second == 0)
    return "telegram.global_per_second: must be at least 1";
  if (telegram.max_attempts == 0)
    return "telegram.max_attempts: must be at least 1";
  if (telegram.poll_timeout.count() < 0 || telegram.poll_timeout > std::chrono::seconds{50})
    return "telegram.poll_timeout: expected 0 to 50s";
  if (kafka.group_prefix.empty())
    return "kafka.group_prefix: must not be empty";
  if (kafka.max_in_flight == 0)
    return "kafka.max_in_flight: must be at least 1";
  if (cluster.port > 65535)
    return "cluster.port: expected 0 (no cluster) or 1 to 65535";
  if (cluster.host.empty())
    return "cluster.host: must not be empty";
  for (const auto& seed : cluster.seeds) {
    auto colon = seed.rfind(':');
    unsigned seed_port = 0;
    auto digits = colon == std::string::npos ? std::string{} : seed.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seed_port);
    if (colon == 0 || colon == std::string::npos || digits.empty() || ec != std::errc{}
        || ptr != digits.data() + digits.size() || seed_port == 0 || seed_port > 65535)
      return "cluster.seeds: expected host:port, got '" + seed + "'";
  }
  if (cluster.heartbeat.count() <= 0 || cluster.heartbeat >= cluster.connection_timeout)
    return "cluster.heartbeat: must be positive and below cluster.connection_timeout";
  {
    const bool cert = !cluster.tls_cert_file.empty(), key = !cluster.tls_key_file.empty(),
               ca = !cluster.tls_ca_file.empty();
    if (cert != key || cert != ca)
      return "cluster.tls_cert_file: tls_cert_file, tls_key_file and tls_ca_file go together";
  }
  if (kafka.fetch_wait.count() <= 0 || kafka.fetch_wait > std::chrono::seconds{10})
    return "kafka.fetch_wait: expected 1ms to 10s";
  if (kafka.linger.count() < 0 || kafka.linger > std::chrono::seconds{10})
    return "kafka.linger: expected 0 to 10s";
  if (alerts.repeat_interval.count() <= 0)
    return "alerts.repeat_interval: must be positive";
  if (log.level != "debug" && log.level != "info" && log.level != "warn"
      && log.level != "error" && log.level != "off")
    return "log.level: expected debug, info, warn, error or off, got '" + log.level + "'";
  return std::nullopt;
}

namespace {

/// Reads sla.config_file when this node runs the watchdog; returns why it cannot.
std::string load_sla_document(settings& s, const std::optional<std::string>& config_file) {
  const auto& roles = s.node.roles;
  if (s.sla.config_file.empty()
      || std::find(roles.begin(), roles.end(), "sla-watchdog") == roles.end())
    return {};
  std::filesystem::path path{s.sla.config_file};
  if (path.is_relative() && config_file)
    path = std::filesystem::path{*config_file}.parent_path() / path;
  auto doc = load_sla_file(path.string());
  if (!doc.value)
    return doc.error;
  s.sla.config_file = path.string();
  s.sla.document = std::make_shared<const sla_document>(std::move(*doc.value));
  return {};
}

} // namespace

load_result load_settings(const config_sources& src) {
  load_result result;
  settings s;
  if (src.file) {
    try {
      auto root = YAML::LoadFile(*src.file);
      if (auto err = apply_yaml(s, root); !err.empty()) {
        result.error = *src.file + ": " + err;
        return result;
      }
    } catch (const YAML::BadFile&) {
      result.error = *src.file + ": cannot read the config file";
      return result;
    } catch (const YAML::Exception& e) {
      result.error = *src.file + ": invalid YAML at line " + std::to_string(e.mark.line + 1)
                     + ": " + e.msg;
      return result;
    }
  }
  if (auto err = apply_environment(s, src.environment); !err.empty()) {
    result.error = err;
    return result;
  }
  if (src.roles_override) {
    auto* spec = find_key("node", "roles");
    if (auto err = spec->assign(s, *src.roles_override); !err.empty()) {
      result.error = "--roles: " + err;
      return result;
    }
  }
  if (s.node.name.empty())
    s.node.name = host_name();
  if (s.node.scheduler_threads == 0)
    s.node.scheduler_threads = default_scheduler_threads(s, available_cores());
  if (auto err = s.validate()) {
    result.error = *err;
    return result;
  }
  if (auto err = load_sla_document(s, src.file); !err.empty()) {
    result.error = "sla.config_file: " + err;
    return result;
  }
  result.value = std::move(s);
  return result;
}

unsigned default_scheduler_threads(const settings& s, unsigned cores) {
  cores = std::max(1u, cores); // hardware_concurrency() may not know (0)
  const auto& roles = s.node.roles;
  const bool gateway = std::find(roles.begin(), roles.end(), "gateway") != roles.end();
  // On 2 cores a third busy thread made every gateway request hop between threads
  // (docs/performance.md, "Scheduler policy").
  const unsigned io = gateway ? s.gateway.io_threads : 0;
  return cores > io ? cores - io : 1;
}

std::string to_yaml(const settings& s) {
  std::string out;
  std::string section;
  for (const auto& spec : schema()) {
    if (spec.section != section) {
      section = spec.section;
      out += section + ":\n";
    }
    auto value = spec.show(s);
    if (spec.secret)
      value = mask(value);
    if (spec.list) {
      out += "  " + spec.key + ": [" + value + "]\n";
    } else {
      YAML::Emitter e;
      e << value;
      out += "  " + spec.key + ": " + e.c_str() + "\n";
    }
  }
  return out;
}

} // namespace fw
