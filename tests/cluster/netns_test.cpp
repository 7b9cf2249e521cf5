// Three nodes in three network namespaces joined by a bridge, as on three hosts: they find
// each other through a seed, a request through A's gateway reaches B's and C's
// data-collector, a hung node (SIGSTOP) is dropped by heartbeat within about a second and
// rejoins when it resumes, a killed one is dropped at once. Needs root (ip netns); skipped
// otherwise.

#include "tests/integration/node_process.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/net.hpp"
#include "tests/support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <set>

namespace {

using namespace std::chrono_literals;
using fw::test::child_process;
using fw::test::http_get;
using fw::test::wait_until;
using json = nlohmann::json;

bool run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

/// Namespaces <prefix>-a/-b/-c on a bridge, subnet 10.78.<k>.0/24 (host .1, nodes .11-.13),
/// names and subnet unique per test process.
class network {
public:
  network() : id_(std::to_string(::getpid() % 100000)), subnet_(std::to_string(::getpid() % 250)) {
    bridge_ = "fwtb" + id_;
    ok_ = run("ip link add " + bridge_ + " type bridge") &&
          run("ip addr add " + host() + "/24 dev " + bridge_) && run("ip link set " + bridge_ + " up");
    for (int i = 0; ok_ && i < 3; ++i) {
      const auto ns = name(i), host_end = "fwt" + id_ + "h" + std::to_string(i);
      const auto node_end = "fwt" + id_ + "n" + std::to_string(i);
      ok_ = run("ip netns add " + ns) &&
            run("ip link add " + host_end + " type veth peer name " + node_end) &&
            run("ip link set " + host_end + " master " + bridge_ + " up") &&
            run("ip link set " + node_end + " netns " + ns) &&
            run("ip -n " + ns + " addr add " + address(i) + "/24 dev " + node_end) &&
            run("ip -n " + ns + " link set lo up") && run("ip -n " + ns + " link set " + node_end + " up");
    }
  }
  ~network() {
    for (int i = 0; i < 3; ++i)
      run("ip netns del " + name(i));
    run("ip link del " + bridge_);
  }
  bool ok() const {
    return ok_;
  }
  std::string name(int i) const {
    return "fwt" + id_ + "-" + std::string(1, char('a' + i));
  }
  std::string address(int i) const {
    return "10.78." + subnet_ + "." + std::to_string(11 + i);
  }
  std::string host() const {
    return "10.78." + subnet_ + ".1";
  }

private:
  std::string id_, subnet_, bridge_;
  bool ok_ = false;
};

class netns_cluster : public ::testing::Test {
protected:
  void SetUp() override {
    if (::geteuid() != 0)
      GTEST_SKIP() << "needs root to create network namespaces; the same scenarios run on "
                      "loopback in cluster_test";
    if (!run("ip netns list"))
      GTEST_SKIP() << "the ip command (iproute2) cannot manage network namespaces here";
    net = std::make_unique<network>();
    if (!net->ok())
      GTEST_SKIP() << "this machine does not let root create network namespaces, veth pairs "
                      "and a bridge (ip netns add / ip link add failed)";
  }

  std::unique_ptr<child_process> start(int i, const std::string& roles) {
    const std::string name = std::string{"node-"} + char('a' + i);
    child_process::options o;
    o.argv = {"ip", "netns", "exec", net->name(i), fw::test::flightwatch_binary(), "--roles", roles};
    o.env = {{"FW_NODE_NAME", name},
             {"FW_GATEWAY_HOST", net->address(i)},
             {"FW_GATEWAY_PORT", "8080"},
             {"FW_STORAGE_URL", "sqlite://" + (dir.path() / (name + ".db")).string()},
             {"FW_OPENSKY_BASE_URL", "http://127.0.0.1:1"},
             {"FW_CLUSTER_PORT", "7070"},
             {"FW_CLUSTER_HOST", net->address(i)},
             {"FW_CLUSTER_SEEDS", net->address(0) + ":7070"}};
    return std::make_unique<child_process>(std::move(o));
  }

  std::string gateway() const {
    return "http://" + net->address(0) + ":8080";
  }

  std::set<std::string> up_nodes() {
    std::set<std::string> out;
    auto r = http_get(gateway() + "/cluster/status", 1s);
    if (r.status != 200)
      return out;
    const auto status = json::parse(r.body);
    for (const auto& n : status["nodes"])
      if (n["state"] == "up")
        out.insert(n["name"].get<std::string>());
    return out;
  }

  std::string logs() {
    std::string out;
    for (auto* p : {a.get(), b.get(), c.get()})
      if (p)
        out += "\n----\n" + p->output();
    return out;
  }

  fw::test::temp_dir dir{"fw-netns"};
  std::unique_ptr<network> net;
  std::unique_ptr<child_process> a, b, c;
};

TEST_F(netns_cluster, nodes_on_separate_hosts_join_route_and_notice_hung_and_killed_peers) {
  a = start(0, "gateway,user-manager");
  b = start(1, "data-collector");
  c = start(2, "data-collector");
  ASSERT_TRUE(wait_until([&] { return up_nodes() == std::set<std::string>{"node-b", "node-c"}; },
                         20s, 100ms))
    << http_get(gateway() + "/cluster/status").body << logs();

  std::set<std::string> answered_by;
  for (int i = 0; i < 6; ++i) {
    auto r = http_get(gateway() + "/data-collector/ping");
    ASSERT_EQ(r.status, 200) << r.body;
    answered_by.insert(json::parse(r.body)["node"].get<std::string>());
  }
  EXPECT_EQ(answered_by, (std::set<std::string>{"node-b", "node-c"}));

  // B hangs: only the heartbeat can tell (its connections stay open).
  b->signal(SIGSTOP);
  const auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return up_nodes() == std::set<std::string>{"node-c"}; }, 5s, 50ms))
    << logs();
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 2500ms);
  for (int i = 0; i < 10; ++i) {
    auto r = http_get(gateway() + "/data-collector/ping");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["node"], "node-c");
  }
  b->signal(SIGCONT);
  ASSERT_TRUE(wait_until([&] { return up_nodes() == std::set<std::string>{"node-b", "node-c"}; },
                         15s, 100ms))
    << logs();

  // C is killed: dropped at once.
  c->signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return up_nodes() == std::set<std::string>{"node-b"}; }, 5s, 20ms))
    << logs();
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 1500ms);
  auto r = http_get(gateway() + "/data-collector/ping");
  EXPECT_EQ(r.status, 200) << r.body;
}

} // namespace
