#pragma once
// Small helpers around librdkafka's C API shared by the producer and the consumers:
// building a configuration from property lists, routing librdkafka's log lines into the
// project's logger, RAII for partition lists.

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fw::kafka {

using properties = std::vector<std::pair<std::string, std::string>>;

struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const {
    rd_kafka_conf_destroy(c);
  }
};
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;

struct partition_list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using partition_list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, partition_list_deleter>;

/// A configuration with `props` set in order (later entries win), librdkafka's log lines
/// routed to fw::log ("topics"). Nullptr and `error` set when a property is unknown or its
/// value invalid (values of secret-looking properties are never repeated).
conf_ptr make_conf(const properties& props, std::string& error);

/// `base` followed by `overrides` (the extra properties from the configuration).
properties merged(properties base, const std::map<std::string, std::string>& overrides);

/// "Local: Broker transport failure" etc.
inline std::string error_text(rd_kafka_resp_err_t err) {
  return rd_kafka_err2str(err);
}

} // namespace fw::kafka
