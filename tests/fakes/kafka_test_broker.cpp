// fw-kafka-test-broker: librdkafka's in-memory mock cluster, run as a
// standalone Kafka broker that other processes connect to over loopback.
// No Kafka broker is packaged for Debian; the mock speaks the real protocol.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

void usage(std::ostream& out) {
  out << "usage: fw-kafka-test-broker [--brokers N] [--topics a,b,c] [--partitions P] "
         "[--verbose]\n"
         "Runs librdkafka's mock cluster on 127.0.0.1 (random ports). Prints\n"
         "'bootstrap=<host:port,...>' once ready; runs until SIGINT/SIGTERM.\n"
         "Topics must be pre-created here: the mock has no admin API.\n";
}

void silent_log(const rd_kafka_t*, int, const char*, const char*) {}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss{list};
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  int partitions = 4;
  bool verbose = false;
  std::vector<std::string> topics;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    try {
      if (arg == "-h" || arg == "--help") {
        usage(std::cout);
        return 0;
      } else if (arg == "--verbose") {
        verbose = true;
      } else if (arg == "--brokers" && has_value) {
        brokers = std::stoi(argv[++i]);
      } else if (arg == "--partitions" && has_value) {
        partitions = std::stoi(argv[++i]);
      } else if (arg == "--topics" && has_value) {
        topics = split(argv[++i]);
      } else {
        throw std::invalid_argument(arg);
      }
    } catch (const std::exception&) {
      std::cerr << "fw-kafka-test-broker: bad argument '" << arg << "'\n";
      usage(std::cerr);
      return 2;
    }
  }
  if (brokers < 1 || partitions < 1) {
    usage(std::cerr);
    return 2;
  }

  // Block the stop signals before librdkafka starts its threads (they
  // inherit the mask), then collect them with sigwait in main.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (!verbose) rd_kafka_conf_set_log_cb(conf, silent_log);
  // The handle only hosts the mock cluster; it never produces.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    std::cerr << "fw-kafka-test-broker: rd_kafka_new: " << errstr << "\n";
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster) {
    std::cerr << "fw-kafka-test-broker: cannot create mock cluster\n";
    rd_kafka_destroy(rk);
    return 1;
  }
  int replication = brokers < 3 ? brokers : 3;
  for (const auto& topic : topics) {
    auto err = rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, replication);
    if (err) {
      std::cerr << "fw-kafka-test-broker: topic " << topic << ": " << rd_kafka_err2str(err)
                << "\n";
      return 1;
    }
  }

  std::printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  if (verbose) std::cerr << "fw-kafka-test-broker: signal " << sig << ", stopping\n";
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
