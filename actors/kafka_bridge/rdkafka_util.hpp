#pragma once
// Small helpers around librdkafka's C API shared by the producer and the consumers:
// creating a client from property lists (librdkafka's log lines routed into the project's
// logger), RAII for partition lists.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <functional>
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

/// Sets a client's callbacks on its configuration before the client is created.
using conf_callbacks = std::function<void(rd_kafka_conf_t*)>;

/// A new producer or consumer configured with `props`, then `overrides` (the extra
/// properties from the configuration; later entries win), librdkafka's log lines routed to
/// fw::log ("topics"), `opaque` for its callbacks, which `callbacks` sets. Nullptr and
/// `error` when it cannot be made: "kafka property <name>: <why>" for an unknown property
/// or invalid value (the value of a secret-looking property is never repeated), else
/// "kafka producer: " / "kafka consumer: " and librdkafka's reason.
rd_kafka_t* new_client(rd_kafka_type_t type, properties props,
                       const std::map<std::string, std::string>& overrides, void* opaque,
                       const conf_callbacks& callbacks, std::string& error);

/// A duration as a librdkafka "*.ms" property value.
inline std::string ms_property(std::chrono::milliseconds d) {
  return std::to_string(d.count());
}

/// "Local: Broker transport failure" etc.
inline std::string error_text(rd_kafka_resp_err_t err) {
  return rd_kafka_err2str(err);
}

} // namespace fw::kafka
