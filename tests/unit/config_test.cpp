// Settings: defaults, YAML, FW_* overrides, secrets from files, errors that name the key.

#include "config/cores.hpp"
#include "config/settings.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace {

using namespace std::chrono_literals;

struct config_test : ::testing::Test {
  fw::test::temp_dir dir{"fw-config"};

  std::string write(const std::string& name, const std::string& text) {
    auto path = (dir.path() / name).string();
    std::ofstream{path} << text;
    return path;
  }

  fw::load_result load_yaml(const std::string& yaml, std::vector<std::string> env = {}) {
    fw::config_sources src;
    src.file = write("flightwatch.yaml", yaml);
    src.environment = std::move(env);
    return fw::load_settings(src);
  }
};

TEST_F(config_test, defaults_are_valid_and_single_node) {
  auto r = fw::load_settings({});
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->gateway.port, 8080);
  EXPECT_EQ(r.value->gateway.host, "127.0.0.1");
  EXPECT_EQ(r.value->node.roles, fw::all_roles());
  EXPECT_TRUE(r.value->storage.url.starts_with("sqlite://"));
  EXPECT_FALSE(r.value->node.name.empty());
}

// The gateway's I/O threads get cores of their own; the scheduler takes the rest.
TEST(config_scheduler, default_threads_leave_the_gateway_its_io_threads) {
  fw::settings s;
  EXPECT_EQ(fw::default_scheduler_threads(s, 2), 1u);
  EXPECT_EQ(fw::default_scheduler_threads(s, 8), 7u);
  EXPECT_EQ(fw::default_scheduler_threads(s, 1), 1u);
  EXPECT_EQ(fw::default_scheduler_threads(s, 0), 1u); // unknown core count
  s.gateway.io_threads = 2;
  EXPECT_EQ(fw::default_scheduler_threads(s, 2), 1u);
  EXPECT_EQ(fw::default_scheduler_threads(s, 4), 2u);
  s.node.roles = {"data-collector", "alert-evaluator"}; // no HTTP on this node
  EXPECT_EQ(fw::default_scheduler_threads(s, 2), 2u);
  EXPECT_EQ(fw::default_scheduler_threads(s, 8), 8u);
}

// A CPU limit of the process's cgroup (a container's) caps the cores the defaults count.
TEST_F(config_test, cgroup_cpu_quota_caps_the_cores) {
  namespace fs = std::filesystem;
  const auto root = dir.path() / "cgroup";
  auto put = [](const fs::path& file, const std::string& text) {
    fs::create_directories(file.parent_path());
    std::ofstream{file} << text;
  };
  // v2, in a container with its own cgroup namespace: the limit is at the mount point.
  put(root / "cpu.max", "150000 100000\n");
  EXPECT_EQ(fw::cgroup_cpu_limit(root, "0::/\n"), 2u) << "1.5 CPUs round up";
  put(root / "cpu.max", "max 100000\n");
  EXPECT_EQ(fw::cgroup_cpu_limit(root, "0::/\n"), std::nullopt) << "no quota";
  // v2 without a namespace: the process's own cgroup and its ancestors, smallest wins.
  put(root / "kubepods" / "cpu.max", "300000 100000\n");
  put(root / "kubepods" / "pod1" / "cpu.max", "max 100000\n");
  put(root / "kubepods" / "pod1" / "app" / "cpu.max", "50000 100000\n");
  EXPECT_EQ(fw::cgroup_cpu_limit(root, "0::/kubepods/pod1/app\n"), 1u);
  put(root / "kubepods" / "pod1" / "app" / "cpu.max", "max 100000\n");
  EXPECT_EQ(fw::cgroup_cpu_limit(root, "0::/kubepods/pod1/app\n"), 3u) << "an ancestor's";
  // v1: the cpu controller's hierarchy; a host path the container does not see falls
  // back to the mount point.
  const auto v1 = dir.path() / "cgroup-v1";
  put(v1 / "cpu,cpuacct" / "cpu.cfs_quota_us", "200000\n");
  put(v1 / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n");
  const std::string v1_self = "12:memory:/x\n4:cpu,cpuacct:/kubepods/burstable/pod9/abc\n";
  EXPECT_EQ(fw::cgroup_cpu_limit(v1, v1_self), 2u);
  put(v1 / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(fw::cgroup_cpu_limit(v1, v1_self), std::nullopt) << "-1 is unlimited";
  EXPECT_EQ(fw::cgroup_cpu_limit(dir.path() / "missing", "0::/\n"), std::nullopt);
  EXPECT_GE(fw::available_cores(), 1u);
}

TEST_F(config_test, shipped_config_file_loads) {
  fw::config_sources src;
  src.file = std::string{FW_SOURCE_DIR} + "/config/flightwatch.yaml";
  auto r = fw::load_settings(src);
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->gateway.port, 8080);
}

TEST_F(config_test, yaml_values_are_applied) {
  auto r = load_yaml("gateway:\n  port: 9090\n  request_timeout: 2s\n"
                     "node:\n  roles: [gateway, user-manager]\n  restart_window: 5m\n");
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->gateway.port, 9090);
  EXPECT_EQ(r.value->gateway.request_timeout, 2s);
  EXPECT_EQ(r.value->node.restart_window, 5min);
  EXPECT_EQ(r.value->node.roles, (std::vector<std::string>{"gateway", "user-manager"}));
}

TEST_F(config_test, environment_overrides_yaml) {
  auto r = load_yaml("gateway:\n  port: 9090\n",
                     {"FW_GATEWAY_PORT=9191", "FW_STORAGE_URL=postgresql://u:pw@db:5432/fw",
                      "FW_NODE_ROLES=notifier,alert-evaluator", "FW_NODE_SCHEDULER_POLICY=stealing",
                      "PATH=/usr/bin"});
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->gateway.port, 9191);
  EXPECT_EQ(r.value->node.scheduler_policy, "stealing");
  EXPECT_EQ(r.value->storage.url, "postgresql://u:pw@db:5432/fw");
  EXPECT_EQ(r.value->node.roles, (std::vector<std::string>{"notifier", "alert-evaluator"}));
}

TEST_F(config_test, roles_flag_overrides_everything) {
  fw::config_sources src;
  src.environment = {"FW_NODE_ROLES=notifier"};
  src.roles_override = "gateway";
  auto r = fw::load_settings(src);
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->node.roles, std::vector<std::string>{"gateway"});
}

TEST_F(config_test, secrets_come_from_files) {
  auto token_file = write("token", "123:abc\n");
  auto r = load_yaml("telegram:\n  bot_token_file: " + token_file + "\n",
                     {"FW_OPENSKY_CLIENT_ID=me", "FW_OPENSKY_CLIENT_SECRET_FILE=" + token_file});
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->telegram.bot_token, "123:abc");
  EXPECT_EQ(r.value->opensky.client_secret, "123:abc");
}

TEST_F(config_test, durations_accept_all_forms) {
  EXPECT_EQ(fw::parse_duration("300"), 300s);
  EXPECT_EQ(fw::parse_duration("300s"), 300s);
  EXPECT_EQ(fw::parse_duration("5m"), 5min);
  EXPECT_EQ(fw::parse_duration("4h"), 4h);
  EXPECT_EQ(fw::parse_duration("250ms"), 250ms);
  EXPECT_FALSE(fw::parse_duration("5 minutes"));
  EXPECT_FALSE(fw::parse_duration("-5s"));
  EXPECT_FALSE(fw::parse_duration(""));
}

TEST_F(config_test, errors_name_the_key) {
  struct bad_case {
    std::string yaml;
    std::vector<std::string> env;
    std::string key;
  };
  std::vector<bad_case> cases{
    {"gateway:\n  prot: 1\n", {}, "gateway.prot: unknown key"},
    {"gatway:\n  port: 1\n", {}, "gatway.port: unknown key"},
    {"gateway:\n  port: abc\n", {}, "gateway.port: expected an integer"},
    {"gateway:\n  port: 70000\n", {}, "gateway.port: expected an integer in [1, 65535]"},
    {"gateway:\n  port: [1, 2]\n", {}, "gateway.port: expected a single value"},
    {"gateway:\n  access_log: maybe\n", {}, "gateway.access_log: expected true or false"},
    {"gateway:\n  request_timeout: soon\n", {}, "gateway.request_timeout: expected a duration"},
    {"opensky:\n  base_url: not a url\n", {}, "opensky.base_url: expected an http(s) URL"},
    {"telegram:\n  api_url: ftp://x\n", {}, "telegram.api_url: expected an http(s) URL"},
    {"storage:\n  url: mysql://x\n", {}, "storage.url:"},
    {"node:\n  roles: [gateway, pilot]\n", {}, "node.roles: unknown role 'pilot'"},
    {"log:\n  level: loud\n", {}, "log.level:"},
    {"node:\n  scheduler_policy: fair\n", {}, "node.scheduler_policy: expected auto, affinity, sharing"},
    {"", {"FW_GATEWAY_PROT=1"}, "FW_GATEWAY_PROT: unknown configuration variable"},
    {"", {"FW_GATEWAY_PORT=0"}, "FW_GATEWAY_PORT (gateway.port): expected an integer"},
  };
  for (const auto& c : cases) {
    auto r = load_yaml(c.yaml, c.env);
    EXPECT_FALSE(r.value) << c.yaml;
    EXPECT_NE(r.error.find(c.key), std::string::npos) << "error: " << r.error << "\nwant: " << c.key;
    EXPECT_EQ(r.error.find('\n'), std::string::npos) << "one line: " << r.error;
  }
}

TEST_F(config_test, broken_yaml_and_missing_file_are_errors) {
  auto r = load_yaml("gateway: [\n");
  EXPECT_FALSE(r.value);
  EXPECT_NE(r.error.find("invalid YAML"), std::string::npos) << r.error;
  fw::config_sources src;
  src.file = "/nonexistent/flightwatch.yaml";
  r = fw::load_settings(src);
  EXPECT_FALSE(r.value);
  EXPECT_NE(r.error.find("cannot read"), std::string::npos) << r.error;
}

TEST_F(config_test, printed_config_masks_secrets) {
  auto r = load_yaml("telegram:\n  bot_token: '123:supersecret'\n"
                     "storage:\n  url: postgresql://fw:hunter2@db:5432/fw\n");
  ASSERT_TRUE(r.value) << r.error;
  auto text = fw::to_yaml(*r.value);
  EXPECT_EQ(text.find("supersecret"), std::string::npos) << text;
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_NE(text.find("bot_token: \"***\""), std::string::npos) << text;
  EXPECT_NE(text.find("postgresql://fw:***@db:5432/fw"), std::string::npos) << text;
  EXPECT_NE(text.find("port: 8080"), std::string::npos) << text;
}

} // namespace

namespace {

TEST(config_env, secret_and_its_file_together_are_an_error) {
  fw::config_sources src;
  src.environment = {"FW_TELEGRAM_BOT_TOKEN=1:x", "FW_TELEGRAM_BOT_TOKEN_FILE=/dev/null"};
  auto r = fw::load_settings(src);
  EXPECT_FALSE(r.value);
  EXPECT_NE(r.error.find("FW_TELEGRAM_BOT_TOKEN: set either"), std::string::npos) << r.error;
}

} // namespace
