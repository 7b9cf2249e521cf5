#include "actors/kafka_bridge/rdkafka_util.hpp"

#include "actors/common/log.hpp"

namespace fw::kafka {

namespace {

// librdkafka logs from its own threads; the logger writes whole lines, so that is safe.
// Its errors (level <= 3) are mostly connection failures that the error callback and the
// readiness probe report already: they stay at debug unless critical.
void log_line(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  if (level <= 2)
    log::error("topics", rd_kafka_name(rk), " ", facility, ": ", text);
  else
    log::debug("topics", rd_kafka_name(rk), " ", facility, ": ", text);
}

bool secret(const std::string& name) {
  for (const char* word : {"password", "secret", "key", "token"})
    if (name.find(word) != std::string::npos)
      return true;
  return false;
}

/// A configuration with `props` set in order; see new_client.
conf_ptr make_conf(const properties& props, std::string& error) {
  conf_ptr conf{rd_kafka_conf_new()};
  char errstr[512];
  for (const auto& [name, value] : props) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      // librdkafka's message quotes the value: left out for anything that may be secret.
      error = "kafka property " + name + (secret(name) ? ": invalid" : ": " + std::string{errstr});
      return nullptr;
    }
  }
  rd_kafka_conf_set_log_cb(conf.get(), log_line);
  return conf;
}

properties merged(properties base, const std::map<std::string, std::string>& overrides) {
  for (const auto& kv : overrides)
    base.emplace_back(kv);
  return base;
}

} // namespace

rd_kafka_t* new_client(rd_kafka_type_t type, properties props,
                       const std::map<std::string, std::string>& overrides, void* opaque,
                       const conf_callbacks& callbacks, std::string& error) {
  auto conf = make_conf(merged(std::move(props), overrides), error);
  if (!conf)
    return nullptr;
  rd_kafka_conf_set_opaque(conf.get(), opaque);
  if (callbacks)
    callbacks(conf.get());
  char errstr[512];
  // rd_kafka_new takes the configuration over only when it succeeds.
  auto* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (!rk) {
    error =
        std::string{type == RD_KAFKA_PRODUCER ? "kafka producer: " : "kafka consumer: "} + errstr;
    return nullptr;
  }
  conf.release();
  return rk;
}

} // namespace fw::kafka
