// Offline validation of deploy/ (no Docker engine or Kubernetes here): every YAML parses,
// Kubernetes objects have what the API server requires, workloads are complete, names and
// ports agree across files, every FW_* variable the manifests set is a real configuration
// key (fw::load_settings refuses unknown ones), the embedded configuration loads, the
// Prometheus configurations pass promtool, the scripts parse, deploy.sh fails clearly
// without its tools, and the systemd unit passes systemd-analyze verify.

#include "config/settings.hpp"
#include "config/sla_document.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path source{FW_SOURCE_DIR};
const fs::path deploy_dir = source / "deploy";
const fs::path k8s_dir = deploy_dir / "k8s";
const fs::path compose_dir = deploy_dir / "compose";

// The image every deployment artefact uses (deploy.sh builds and loads this tag).
const std::string image = "flightwatch:0.1.0";

// Issue 7's role split; every group also runs the gateway (see deploy/k8s/nodes.yaml).
const std::map<std::string, std::set<std::string>> role_split{
  {"a", {"gateway", "user-manager"}},
  {"b", {"gateway", "data-collector", "user-manager"}},
  {"c", {"gateway", "data-collector", "alert-evaluator", "notifier", "sla-watchdog"}},
};

// Ingress paths: the seed's prefixes, which the gateway serves unchanged.
const std::set<std::string> seed_prefixes{"/user-manager", "/data-collector",
                                          "/sla-detector", "/notifier"};

std::string read_text(const fs::path& p) {
  std::ifstream in{p};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out{p};
  out << text;
}

class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "fw-deploy-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct run_result {
  int status = -1;
  std::string output; // stdout and stderr
};

run_result run(const std::string& command) {
  run_result r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr)
    return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    r.output.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return q + "'";
}

bool have_program(const std::string& name) {
  return run("command -v " + name).status == 0;
}

/// yaml-cpp 0.7 does not apply YAML merge keys ("<<: *anchor"): do it here.
YAML::Node merged(const YAML::Node& node) {
  if (node.IsSequence()) {
    YAML::Node out{YAML::NodeType::Sequence};
    for (const auto& item : node)
      out.push_back(merged(item));
    return out;
  }
  if (!node.IsMap())
    return node;
  YAML::Node out{YAML::NodeType::Map};
  if (auto base = node["<<"]) {
    auto add = [&out](const YAML::Node& m) {
      for (const auto& kv : merged(m))
        out[kv.first.as<std::string>()] = YAML::Node{kv.second};
    };
    if (base.IsSequence())
      for (const auto& m : base)
        add(m);
    else
      add(base);
  }
  for (const auto& kv : node) {
    auto key = kv.first.as<std::string>();
    if (key != "<<")
      out[key] = merged(kv.second);
  }
  return out;
}

std::vector<YAML::Node> load_documents(const fs::path& p) {
  std::vector<YAML::Node> docs;
  for (auto& d : YAML::LoadAllFromFile(p.string()))
    if (d && !d.IsNull())
      docs.push_back(merged(d));
  return docs;
}

std::vector<fs::path> yaml_files_under(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()
        && (e.path().extension() == ".yaml" || e.path().extension() == ".yml"))
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string str(const YAML::Node& n) {
  return n && n.IsScalar() ? n.Scalar() : std::string{};
}

/// Kubernetes memory quantity ("64Mi", "1Gi", "512M") in bytes.
double quantity_bytes(const std::string& q) {
  static const std::vector<std::pair<std::string, double>> units{
    {"Ki", 1024.0}, {"Mi", 1024.0 * 1024}, {"Gi", 1024.0 * 1024 * 1024},
    {"k", 1e3},     {"M", 1e6},            {"G", 1e9}};
  for (const auto& [suffix, factor] : units)
    if (q.ends_with(suffix))
      return std::stod(q.substr(0, q.size() - suffix.size())) * factor;
  return std::stod(q);
}

std::pair<std::string, int> host_port(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return {address, 0};
  return {address.substr(0, colon), std::stoi(address.substr(colon + 1))};
}

/// Host and port of a URL ("postgresql://u:p@postgres:5432/db", "http://prometheus:9090").
std::pair<std::string, int> url_host_port(const std::string& url) {
  static const std::regex re{R"(^[a-z]+://(?:[^@/]*@)?([^:/]+):(\d+))"};
  std::smatch m;
  if (!std::regex_search(url, m, re))
    return {"", 0};
  return {m[1].str(), std::stoi(m[2].str())};
}

// ---------------------------------------------------------------- Kubernetes model

struct k8s_objects {
  std::vector<YAML::Node> all;

  k8s_objects() {
    for (const auto& f : yaml_files_under(k8s_dir)) {
      auto name = f.filename().string();
      if (name == "kustomization.yaml" || name == "kind-config.yaml")
        continue;
      for (auto& d : load_documents(f))
        all.push_back(d);
    }
  }

  std::vector<YAML::Node> of_kind(const std::string& kind) const {
    std::vector<YAML::Node> out;
    for (const auto& o : all)
      if (str(o["kind"]) == kind)
        out.push_back(o);
    return out;
  }

  YAML::Node find(const std::string& kind, const std::string& name) const {
    for (const auto& o : all)
      if (str(o["kind"]) == kind && str(o["metadata"]["name"]) == name)
        return o;
    return YAML::Node{};
  }

  std::vector<YAML::Node> workloads() const {
    auto out = of_kind("Deployment");
    for (auto& s : of_kind("StatefulSet"))
      out.push_back(s);
    return out;
  }

  /// The workloads whose pod labels a Service selector selects.
  std::vector<YAML::Node> selected_by(const YAML::Node& selector) const {
    std::vector<YAML::Node> out;
    for (const auto& w : workloads()) {
      auto labels = w["spec"]["template"]["metadata"]["labels"];
      bool all_match = selector && selector.IsMap() && selector.size() > 0;
      for (const auto& kv : selector)
        if (str(labels[kv.first.as<std::string>()]) != str(kv.second))
          all_match = false;
      if (all_match)
        out.push_back(w);
    }
    return out;
  }

  /// Does a Service of that name listen on that port (in front of a workload)?
  bool service_port(const std::string& name, int port) const {
    auto svc = find("Service", name);
    if (!svc)
      return false;
    for (const auto& p : svc["spec"]["ports"])
      if (p["port"].as<int>() == port)
        return !selected_by(svc["spec"]["selector"]).empty();
    return false;
  }
};

YAML::Node container_port(const YAML::Node& container, const std::string& name) {
  for (const auto& p : container["ports"])
    if (str(p["name"]) == name)
      return p;
  return YAML::Node{};
}

std::string flightwatch_config_text(const k8s_objects& k, const std::string& key) {
  auto cm = k.find("ConfigMap", "flightwatch-config");
  return cm ? str(cm["data"][key]) : std::string{};
}

std::string roles_arg(const YAML::Node& container) {
  auto args = container["args"];
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i].as<std::string>() == "--roles")
      return args[i + 1].as<std::string>();
  return {};
}

std::set<std::string> split_roles(const std::string& text) {
  std::set<std::string> out;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, ','))
    out.insert(item);
  return out;
}

/// The effective settings of a flightwatch container of deploy/k8s, loaded as the node
/// would load them: the ConfigMap's files, the container's environment with Secret
/// values and mounted secret files resolved, and --roles.
fw::load_result load_k8s_node(const k8s_objects& k, const YAML::Node& deployment,
                              const temp_dir& tmp, std::vector<std::string>* names = nullptr) {
  auto pod = deployment["spec"]["template"]["spec"];
  auto container = pod["containers"][0];
  auto secret = k.find("Secret", "flightwatch-secrets")["stringData"];
  // Where each volume is mounted, and which Secret or ConfigMap it holds.
  std::map<std::string, YAML::Node> volumes;
  for (const auto& v : pod["volumes"])
    volumes[str(v["name"])] = YAML::Node{v};
  fs::path conf_dir = tmp.path() / "etc-flightwatch";
  fs::create_directories(conf_dir);
  std::string secret_mount;
  for (const auto& m : container["volumeMounts"]) {
    auto v = volumes[str(m["name"])];
    if (v["configMap"] && str(v["configMap"]["name"]) == "flightwatch-config") {
      EXPECT_EQ(str(m["mountPath"]), "/etc/flightwatch");
      write_text(conf_dir / "flightwatch.yaml", flightwatch_config_text(k, "flightwatch.yaml"));
      write_text(conf_dir / "sla.yaml", flightwatch_config_text(k, "sla.yaml"));
    }
    if (v["secret"] && str(v["secret"]["secretName"]) == "flightwatch-secrets")
      secret_mount = str(m["mountPath"]);
  }
  std::vector<std::string> env;
  for (const auto& e : container["env"]) {
    auto name = str(e["name"]);
    std::string value;
    if (e["value"]) {
      value = str(e["value"]);
      if (!secret_mount.empty() && value.starts_with(secret_mount + "/")) {
        auto key = value.substr(secret_mount.size() + 1);
        EXPECT_TRUE(secret[key]) << name << ": the Secret has no key " << key;
        auto file = tmp.path() / ("secret-" + key);
        write_text(file, str(secret[key]) + "\n");
        value = file.string();
      }
    } else if (auto ref = e["valueFrom"]["fieldRef"]) {
      value = str(ref["fieldPath"]) == "status.podIP" ? "10.244.0.17" : "flightwatch-x-1";
    } else if (auto ref = e["valueFrom"]["secretKeyRef"]) {
      EXPECT_EQ(str(ref["name"]), "flightwatch-secrets");
      EXPECT_TRUE(secret[str(ref["key"])]) << name << ": the Secret has no key " << str(ref["key"]);
      value = str(secret[str(ref["key"])]);
    } else {
      ADD_FAILURE() << name << ": no value";
    }
    if (names)
      names->push_back(name);
    env.push_back(name + "=" + value);
  }
  fw::config_sources src;
  src.file = (conf_dir / "flightwatch.yaml").string();
  src.environment = env;
  src.roles_override = roles_arg(container);
  return fw::load_settings(src);
}

// ---------------------------------------------------------------- compose model

std::string interpolate(const std::string& text) {
  // ${VAR:-default} and ${VAR}: the defaults (tests must not depend on the caller's env).
  static const std::regex re{R"(\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\})"};
  return std::regex_replace(text, re, "$1");
}

struct compose_model {
  YAML::Node root = merged(YAML::LoadFile((compose_dir / "compose.yaml").string()));
  YAML::Node services = root["services"];
  std::vector<std::string> nodes{"node-a", "node-b", "node-c"};

  /// A path inside a node's container → the file on this machine.
  fs::path host_path(const YAML::Node& svc, const std::string& container_path) const {
    if (container_path.starts_with("/run/secrets/")) {
      auto name = container_path.substr(std::string{"/run/secrets/"}.size());
      return compose_dir / interpolate(str(root["secrets"][name]["file"]));
    }
    for (const auto& v : svc["volumes"]) {
      auto spec = str(v);
      auto first = spec.find(':');
      auto second = spec.find(':', first + 1);
      auto target = spec.substr(first + 1, second == std::string::npos ? std::string::npos
                                                                       : second - first - 1);
      if (target == container_path)
        return compose_dir / spec.substr(0, first);
    }
    if (container_path.starts_with("/etc/flightwatch/")) // the image's copy of config/
      return source / "config" / fs::path{container_path}.filename();
    return {};
  }
};

/// ENV FW_*=value lines of the Dockerfile's runtime stage.
std::vector<std::string> dockerfile_fw_env() {
  std::vector<std::string> out;
  static const std::regex re{R"(^ENV\s+(FW_[A-Z0-9_]+)=(\S+))"};
  std::stringstream in{read_text(deploy_dir / "docker" / "Dockerfile")};
  std::string line;
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_search(line, m, re))
      out.push_back(m[1].str() + "=" + m[2].str());
  return out;
}

fw::load_result load_compose_node(const compose_model& c, const std::string& name,
                                  std::vector<std::string>* names = nullptr) {
  auto svc = c.services[name];
  std::vector<std::string> env = dockerfile_fw_env();
  for (const auto& kv : svc["environment"]) {
    auto key = kv.first.as<std::string>();
    auto value = interpolate(str(kv.second));
    if (key.ends_with("_FILE") || key == "FW_SLA_CONFIG_FILE") {
      auto p = c.host_path(svc, value);
      EXPECT_FALSE(p.empty()) << name << ": " << key << "=" << value << " is not mounted";
      EXPECT_TRUE(fs::exists(p)) << name << ": " << p;
      value = p.string();
    }
    if (names)
      names->push_back(key);
    // A later entry overrides an earlier one (the image's ENV, then compose's).
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(key + "="); });
    env.push_back(key + "=" + value);
  }
  fw::config_sources src;
  src.file = c.host_path(svc, "/etc/flightwatch/flightwatch.yaml").string();
  src.environment = env;
  auto command = svc["command"];
  if (command && command.size() == 2 && command[0].as<std::string>() == "--roles")
    src.roles_override = command[1].as<std::string>();
  return fw::load_settings(src);
}

std::vector<fw::sla_metric> config_sla_metrics() {
  auto doc = fw::load_sla_file((source / "config" / "sla.yaml").string());
  return doc.value ? doc.value->metrics : std::vector<fw::sla_metric>{};
}

/// Runs promtool check config; a promtool built without Kubernetes discovery (Debian's)
/// checks the file with kubernetes_sd_configs replaced by a static target instead.
void expect_promtool_accepts(const fs::path& file, const temp_dir& tmp) {
  auto r = run("promtool check config " + quote(file.string()));
  if (r.status != 0 && r.output.find("field kubernetes_sd_configs not found") != std::string::npos) {
    std::cout << "[   NOTE   ] this promtool has no Kubernetes discovery (Debian build): "
                 "checking " << file.filename() << " with a static target instead\n";
    auto conf = YAML::LoadFile(file.string());
    for (auto job : conf["scrape_configs"])
      if (job["kubernetes_sd_configs"]) {
        job.remove("kubernetes_sd_configs");
        YAML::Node sc;
        sc["targets"].push_back("pod.example:8080");
        job["static_configs"].push_back(sc);
      }
    auto copy = tmp.path() / ("static-" + file.filename().string());
    YAML::Emitter e;
    e << conf;
    write_text(copy, e.c_str());
    r = run("promtool check config " + quote(copy.string()));
  }
  EXPECT_EQ(r.status, 0) << file << ":\n" << r.output;
}

fw::duration scrape_interval(const fs::path& prometheus_yml) {
  auto conf = YAML::LoadFile(prometheus_yml.string());
  auto d = fw::parse_duration(str(conf["global"]["scrape_interval"]));
  return d ? *d : fw::duration{60000};
}

} // namespace

// ================================================================ every YAML

TEST(DeployYaml, EveryFileParses) {
  std::size_t files = 0;
  for (const auto& dir : {k8s_dir, compose_dir, deploy_dir / "prometheus"})
    for (const auto& f : yaml_files_under(dir)) {
      ++files;
      try {
        EXPECT_FALSE(load_documents(f).empty()) << f << " holds no document";
      } catch (const YAML::Exception& e) {
        ADD_FAILURE() << f << ": " << e.what();
      }
    }
  EXPECT_GE(files, 12u);
}

// ================================================================ Kubernetes

TEST(DeployK8s, ObjectsHaveApiVersionKindAndName) {
  k8s_objects k;
  ASSERT_GE(k.all.size(), 15u);
  std::set<std::string> seen;
  for (const auto& o : k.all) {
    auto id = str(o["kind"]) + "/" + str(o["metadata"]["name"]);
    EXPECT_FALSE(str(o["apiVersion"]).empty()) << id;
    EXPECT_FALSE(str(o["kind"]).empty()) << id;
    EXPECT_FALSE(str(o["metadata"]["name"]).empty()) << id;
    EXPECT_TRUE(seen.insert(id).second) << id << " defined twice";
    // kustomization.yaml puts everything in the namespace.
    EXPECT_FALSE(o["metadata"]["namespace"]) << id << ": the namespace comes from kustomization";
  }
}

TEST(DeployK8s, KustomizationListsEveryManifest) {
  auto kz = YAML::LoadFile((k8s_dir / "kustomization.yaml").string());
  EXPECT_EQ(str(kz["kind"]), "Kustomization");
  EXPECT_EQ(str(kz["namespace"]), "flightwatch");
  std::set<std::string> listed;
  for (const auto& r : kz["resources"])
    listed.insert(r.as<std::string>());
  std::set<std::string> manifests;
  for (const auto& f : yaml_files_under(k8s_dir)) {
    auto name = f.filename().string();
    if (name != "kustomization.yaml" && name != "kind-config.yaml")
      manifests.insert(name);
  }
  EXPECT_EQ(listed, manifests);
  k8s_objects k;
  EXPECT_TRUE(k.find("Namespace", "flightwatch"));
  for (const auto& i : kz["images"])
    if (str(i["name"]) == "flightwatch") {
      EXPECT_EQ("flightwatch:" + str(i["newTag"]), image);
    }
}

TEST(DeployK8s, KindClusterMapsIngressPorts) {
  auto kind = YAML::LoadFile((k8s_dir / "kind-config.yaml").string());
  EXPECT_EQ(str(kind["kind"]), "Cluster");
  EXPECT_EQ(str(kind["apiVersion"]), "kind.x-k8s.io/v1alpha4");
  std::set<int> host_ports;
  bool ingress_ready = false;
  for (const auto& n : kind["nodes"]) {
    for (const auto& m : n["extraPortMappings"]) {
      EXPECT_EQ(m["containerPort"].as<int>(), m["hostPort"].as<int>());
      host_ports.insert(m["hostPort"].as<int>());
    }
    for (const auto& p : n["kubeadmConfigPatches"])
      ingress_ready |= str(p).find("ingress-ready=true") != std::string::npos;
  }
  EXPECT_EQ(host_ports, (std::set<int>{80, 443}));
  EXPECT_TRUE(ingress_ready);
}

TEST(DeployK8s, WorkloadsAreComplete) {
  k8s_objects k;
  auto workloads = k.workloads();
  ASSERT_EQ(workloads.size(), 6u); // 3 node groups, Prometheus, PostgreSQL, Kafka
  for (const auto& w : workloads) {
    auto id = str(w["kind"]) + "/" + str(w["metadata"]["name"]);
    auto selector = w["spec"]["selector"]["matchLabels"];
    auto labels = w["spec"]["template"]["metadata"]["labels"];
    ASSERT_TRUE(selector && selector.size() > 0) << id;
    for (const auto& kv : selector)
      EXPECT_EQ(str(labels[kv.first.as<std::string>()]), str(kv.second))
        << id << ": selector label " << kv.first.as<std::string>() << " not on the pods";
    if (str(w["kind"]) == "StatefulSet") {
      EXPECT_TRUE(k.find("Service", str(w["spec"]["serviceName"]))) << id;
    }
    auto containers = w["spec"]["template"]["spec"]["containers"];
    ASSERT_TRUE(containers && containers.size() > 0) << id;
    for (const auto& c : containers) {
      EXPECT_FALSE(str(c["image"]).empty()) << id;
      EXPECT_EQ(str(c["image"]).find(":latest"), std::string::npos) << id << ": pin the tag";
      EXPECT_TRUE(c["image"].Scalar().find(':') != std::string::npos) << id << ": pin the tag";
      EXPECT_TRUE(c["readinessProbe"]) << id;
      EXPECT_TRUE(c["livenessProbe"]) << id;
      EXPECT_TRUE(c["resources"]["requests"]["memory"]) << id;
      EXPECT_TRUE(c["resources"]["requests"]["cpu"]) << id;
      EXPECT_TRUE(c["resources"]["limits"]["memory"]) << id;
      // Probes name ports the container declares.
      for (const auto* probe : {"readinessProbe", "livenessProbe"}) {
        YAML::Node port;
        for (const auto* handler : {"httpGet", "tcpSocket"})
          if (auto h = c[probe][handler])
            port = h["port"];
        if (port && !std::isdigit(static_cast<unsigned char>(str(port)[0]))) {
          EXPECT_TRUE(container_port(c, str(port))) << id << " " << probe << ": " << str(port);
        }
      }
    }
  }
}

TEST(DeployK8s, NodeGroupsFollowTheRoleSplit) {
  k8s_objects k;
  std::set<std::string> all_hosted;
  for (const auto& [group, roles] : role_split) {
    auto d = k.find("Deployment", "flightwatch-" + group);
    ASSERT_TRUE(d) << "flightwatch-" << group;
    auto pod = d["spec"]["template"];
    auto c = pod["spec"]["containers"][0];
    EXPECT_EQ(str(c["name"]), "flightwatch");
    EXPECT_EQ(str(c["image"]), image);
    auto hosted = split_roles(roles_arg(c));
    EXPECT_EQ(hosted, roles) << "flightwatch-" << group;
    all_hosted.insert(hosted.begin(), hosted.end());

    // Ports as configured (checked against the loaded settings in EnvAndConfigLoad).
    EXPECT_EQ(container_port(c, "http")["containerPort"].as<int>(), 8080);
    EXPECT_EQ(container_port(c, "cluster")["containerPort"].as<int>(), 7070);

    // Readiness on /health; liveness on a ping of a role this pod hosts (no database).
    EXPECT_EQ(str(c["readinessProbe"]["httpGet"]["path"]), "/health");
    EXPECT_EQ(str(c["readinessProbe"]["httpGet"]["port"]), "http");
    auto live = str(c["livenessProbe"]["httpGet"]["path"]);
    EXPECT_EQ(str(c["livenessProbe"]["httpGet"]["port"]), "http");
    static const std::map<std::string, std::string> ping_role{
      {"/user-manager/ping", "user-manager"},
      {"/data-collector/ping", "data-collector"},
      {"/notifier/ping", "notifier"},
      {"/sla-detector/ping", "sla-watchdog"}};
    ASSERT_TRUE(ping_role.contains(live)) << "flightwatch-" << group << " liveness " << live;
    EXPECT_TRUE(hosted.contains(ping_role.at(live)))
      << "flightwatch-" << group << ": liveness pings a role the pod does not host";

    // Scraped by Prometheus through the annotations, on the gateway port.
    auto ann = pod["metadata"]["annotations"];
    EXPECT_EQ(str(ann["prometheus.io/scrape"]), "true");
    EXPECT_EQ(str(ann["prometheus.io/port"]), "8080");
    EXPECT_EQ(str(ann["prometheus.io/path"]), "/metrics");

    // Memory: above the measured peak RSS (docs/performance.md: at most ~43 MiB).
    auto req = quantity_bytes(str(c["resources"]["requests"]["memory"]));
    auto lim = quantity_bytes(str(c["resources"]["limits"]["memory"]));
    EXPECT_GE(req, 48.0 * 1024 * 1024);
    EXPECT_GE(lim, 2 * req);
    EXPECT_TRUE(c["securityContext"]["readOnlyRootFilesystem"].as<bool>());
    EXPECT_TRUE(pod["spec"]["securityContext"]["runAsNonRoot"].as<bool>());
  }
  std::set<std::string> every(fw::all_roles().begin(), fw::all_roles().end());
  EXPECT_EQ(all_hosted, every);
}

TEST(DeployK8s, EnvAndConfigLoadAsTheNodeLoadsThem) {
  k8s_objects k;
  auto prom_cm = k.find("ConfigMap", "prometheus-config");
  ASSERT_TRUE(prom_cm);
  temp_dir prom_tmp;
  write_text(prom_tmp.path() / "prometheus.yml", str(prom_cm["data"]["prometheus.yml"]));
  auto scrape = scrape_interval(prom_tmp.path() / "prometheus.yml");
  for (const auto& [group, roles] : role_split) {
    auto d = k.find("Deployment", "flightwatch-" + group);
    ASSERT_TRUE(d);
    temp_dir tmp;
    std::vector<std::string> names;
    auto loaded = load_k8s_node(k, d, tmp, &names);
    ASSERT_TRUE(loaded.value) << "flightwatch-" << group << ": " << loaded.error;
    const auto& s = *loaded.value;
    for (const auto& n : names)
      EXPECT_TRUE(n.starts_with("FW_")) << n;
    auto c = d["spec"]["template"]["spec"]["containers"][0];
    EXPECT_EQ(s.gateway.host, "0.0.0.0");
    EXPECT_EQ(s.gateway.port, container_port(c, "http")["containerPort"].as<int>());
    EXPECT_TRUE(s.cluster.enabled());
    EXPECT_EQ(s.cluster.port, container_port(c, "cluster")["containerPort"].as<unsigned>());
    EXPECT_EQ(s.cluster.host, "0.0.0.0");
    EXPECT_EQ(s.cluster.advertise, "10.244.0.17"); // the pod IP
    ASSERT_FALSE(s.cluster.seeds.empty());
    for (const auto& seed : s.cluster.seeds) {
      auto [host, port] = host_port(seed);
      EXPECT_TRUE(k.service_port(host, port)) << "seed " << seed << " is no Service port";
      auto svc = k.find("Service", host);
      EXPECT_EQ(str(svc["spec"]["clusterIP"]), "None") << host;
      EXPECT_TRUE(svc["spec"]["publishNotReadyAddresses"].as<bool>()) << host;
    }
    // Outgoing: storage, Kafka and (for the watchdog) Prometheus are Services here.
    auto [db_host, db_port] = url_host_port(s.storage.url);
    EXPECT_TRUE(k.service_port(db_host, db_port)) << "storage.url points nowhere";
    EXPECT_TRUE(s.storage.url.starts_with("postgresql://"));
    ASSERT_FALSE(s.kafka.brokers.empty());
    auto [kafka_host, kafka_port] = host_port(s.kafka.brokers);
    EXPECT_TRUE(k.service_port(kafka_host, kafka_port)) << s.kafka.brokers;
    // Shutdown fits in the grace period: shutdown_timeout per child (roles, topics, storage,
    // cluster).
    auto grace = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].as<long>();
    EXPECT_GE(grace * 1000, static_cast<long>((roles.size() + 3) * s.node.shutdown_timeout.count()));
    if (roles.contains("sla-watchdog")) {
      ASSERT_TRUE(s.sla.document) << "sla.yaml not loaded";
      EXPECT_EQ(s.sla.document->metrics, config_sla_metrics());
      auto [prom_host, prom_port] = url_host_port(s.sla.document->prometheus_url);
      EXPECT_TRUE(k.service_port(prom_host, prom_port)) << s.sla.document->prometheus_url;
      EXPECT_GE(s.sla.document->t_check, 5 * scrape) << "t_check below 5 x scrape_interval";
    }
  }
}

TEST(DeployK8s, AnUnknownVariableWouldFailTheLoad) {
  // The check above means something: a misspelt key in a manifest stops the node.
  k8s_objects k;
  auto d = k.find("Deployment", "flightwatch-a");
  YAML::Node bad = YAML::Clone(d);
  YAML::Node e;
  e["name"] = "FW_GATEWAY_PROT";
  e["value"] = "8080";
  bad["spec"]["template"]["spec"]["containers"][0]["env"].push_back(e);
  temp_dir tmp;
  auto loaded = load_k8s_node(k, bad, tmp);
  EXPECT_FALSE(loaded.value);
  EXPECT_NE(loaded.error.find("FW_GATEWAY_PROT"), std::string::npos) << loaded.error;
}

TEST(DeployK8s, ServicesSelectPodsAndTheirPorts) {
  k8s_objects k;
  for (const auto& svc : k.of_kind("Service")) {
    auto name = str(svc["metadata"]["name"]);
    auto pods = k.selected_by(svc["spec"]["selector"]);
    ASSERT_FALSE(pods.empty()) << "Service " << name << " selects no workload";
    for (const auto& p : svc["spec"]["ports"]) {
      auto target = p["targetPort"] ? str(p["targetPort"]) : str(p["port"]);
      for (const auto& w : pods) {
        bool found = false;
        for (const auto& c : w["spec"]["template"]["spec"]["containers"])
          for (const auto& cp : c["ports"])
            found |= str(cp["name"]) == target || str(cp["containerPort"]) == target;
        EXPECT_TRUE(found) << "Service " << name << " targets " << target << ", which "
                           << str(w["metadata"]["name"]) << " does not declare";
      }
    }
  }
  auto gw = k.find("Service", "flightwatch-gateway");
  ASSERT_TRUE(gw);
  auto pods = k.selected_by(gw["spec"]["selector"]);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(str(pods[0]["metadata"]["name"]), "flightwatch-a");
}

TEST(DeployK8s, IngressServesTheSeedPrefixesOverTls) {
  k8s_objects k;
  auto ingresses = k.of_kind("Ingress");
  ASSERT_EQ(ingresses.size(), 1u);
  auto ing = ingresses[0];
  EXPECT_EQ(str(ing["apiVersion"]), "networking.k8s.io/v1");
  ASSERT_TRUE(ing["spec"]["tls"] && ing["spec"]["tls"].size() > 0);
  EXPECT_FALSE(str(ing["spec"]["tls"][0]["secretName"]).empty());
  std::set<std::string> paths;
  for (const auto& rule : ing["spec"]["rules"])
    for (const auto& p : rule["http"]["paths"]) {
      paths.insert(str(p["path"]));
      EXPECT_EQ(str(p["pathType"]), "Prefix");
      auto svc_name = str(p["backend"]["service"]["name"]);
      auto svc = k.find("Service", svc_name);
      ASSERT_TRUE(svc) << svc_name;
      auto port_name = str(p["backend"]["service"]["port"]["name"]);
      bool found = false;
      for (const auto& sp : svc["spec"]["ports"])
        found |= str(sp["name"]) == port_name;
      EXPECT_TRUE(found) << svc_name << " has no port " << port_name;
    }
  EXPECT_EQ(paths, seed_prefixes);
}

TEST(DeployK8s, SecretTemplateHoldsPlaceholdersOnly) {
  k8s_objects k;
  auto s = k.find("Secret", "flightwatch-secrets");
  ASSERT_TRUE(s);
  for (const auto* key : {"storage_url", "postgres_password", "opensky_client_id",
                          "opensky_client_secret", "telegram_bot_token"})
    EXPECT_TRUE(s["stringData"][key]) << key;
  EXPECT_NE(str(s["stringData"]["storage_url"]).find(str(s["stringData"]["postgres_password"])),
            std::string::npos)
    << "storage_url must carry postgres_password";
  EXPECT_EQ(str(s["stringData"]["telegram_bot_token"]), "");
  EXPECT_EQ(str(s["stringData"]["opensky_client_secret"]), "");
}

// ================================================================ compose

TEST(DeployCompose, NodesFollowTheRoleSplitAndLoad) {
  compose_model c;
  ASSERT_TRUE(c.services.IsMap());
  for (const auto* s : {"postgres", "kafka", "prometheus"})
    EXPECT_TRUE(c.services[s]) << s;
  std::set<std::string> all_hosted;
  for (const auto& [group, roles] : role_split) {
    auto name = "node-" + group;
    auto svc = c.services[name];
    ASSERT_TRUE(svc) << name;
    EXPECT_EQ(str(svc["image"]), image) << name;
    std::vector<std::string> names;
    auto loaded = load_compose_node(c, name, &names);
    ASSERT_TRUE(loaded.value) << name << ": " << loaded.error;
    const auto& s = *loaded.value;
    for (const auto& n : names)
      EXPECT_TRUE(n.starts_with("FW_")) << n;
    std::set<std::string> hosted(s.node.roles.begin(), s.node.roles.end());
    EXPECT_EQ(hosted, roles) << name;
    all_hosted.insert(hosted.begin(), hosted.end());
    EXPECT_EQ(s.node.name, name);
    EXPECT_EQ(s.gateway.host, "0.0.0.0");
    EXPECT_EQ(s.gateway.port, 8080);
    EXPECT_EQ(s.cluster.port, 7070u);
    EXPECT_EQ(s.cluster.host, "0.0.0.0");
    EXPECT_EQ(s.cluster.advertise, name);
    std::set<std::string> exposed;
    for (const auto& e : svc["expose"])
      exposed.insert(str(e));
    EXPECT_TRUE(exposed.contains(std::to_string(s.gateway.port)));
    EXPECT_TRUE(exposed.contains(std::to_string(s.cluster.port)));
    for (const auto& seed : s.cluster.seeds) {
      auto [host, port] = host_port(seed);
      EXPECT_TRUE(c.services[host]) << seed;
      EXPECT_EQ(port, 7070);
    }
    EXPECT_EQ(url_host_port(s.storage.url).first, "postgres");
    EXPECT_EQ(host_port(s.kafka.brokers).first, "kafka");
    EXPECT_EQ(host_port(s.kafka.brokers).second, 9092);
    // Only node-a's gateway is published.
    if (group == "a")
      EXPECT_TRUE(svc["ports"] && svc["ports"].size() == 1 &&
                  str(svc["ports"][0]).ends_with(":8080:8080"));
    else
      EXPECT_FALSE(svc["ports"]) << name << " publishes a port";
    if (roles.contains("sla-watchdog")) {
      ASSERT_TRUE(s.sla.document);
      EXPECT_EQ(s.sla.document->metrics, config_sla_metrics());
      EXPECT_EQ(url_host_port(s.sla.document->prometheus_url),
                (std::pair<std::string, int>{"prometheus", 9090}));
      EXPECT_GE(s.sla.document->t_check, 5 * scrape_interval(compose_dir / "prometheus.yml"));
    }
  }
  std::set<std::string> every(fw::all_roles().begin(), fw::all_roles().end());
  EXPECT_EQ(all_hosted, every);
}

TEST(DeployCompose, PrometheusScrapesEveryNodeOnItsGateway) {
  compose_model c;
  auto prom = YAML::LoadFile((compose_dir / "prometheus.yml").string());
  std::set<std::string> targets;
  for (const auto& job : prom["scrape_configs"])
    for (const auto& sc : job["static_configs"])
      for (const auto& t : sc["targets"])
        targets.insert(str(t));
  for (const auto& n : c.nodes)
    EXPECT_TRUE(targets.contains(n + ":8080")) << n << " is not scraped";
  // The file the compose service mounts is this one.
  bool mounted = false;
  for (const auto& v : c.services["prometheus"]["volumes"])
    mounted |= str(v).starts_with("./prometheus.yml:/etc/prometheus/prometheus.yml");
  EXPECT_TRUE(mounted);
}

TEST(DeployCompose, DatabasePasswordMatchesTheStorageUrl) {
  compose_model c;
  auto read_secret = [&](const std::string& name) {
    auto text = read_text(c.host_path(c.services["postgres"], "/run/secrets/" + name));
    while (!text.empty() && text.back() == '\n')
      text.pop_back();
    return text;
  };
  auto password = read_secret("postgres_password");
  ASSERT_FALSE(password.empty());
  auto url = read_secret("storage_url");
  EXPECT_NE(url.find(":" + password + "@postgres:5432/"), std::string::npos) << url;
  EXPECT_EQ(str(c.services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"]),
            "/run/secrets/postgres_password");
}

// ================================================================ image, Prometheus, scripts

TEST(DeployImage, OneImageNameEverywhere) {
  // deploy.sh builds and loads the tag the manifests and compose use.
  auto script = read_text(k8s_dir / "deploy.sh");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(script, m, std::regex{R"(FLIGHTWATCH_IMAGE:-([^}]+)\})"}));
  EXPECT_EQ(m[1].str(), image);
  EXPECT_NE(script.find("deploy/docker/Dockerfile"), std::string::npos);
  k8s_objects k;
  for (const auto& w : k.workloads())
    for (const auto& c : w["spec"]["template"]["spec"]["containers"])
      if (str(c["name"]) == "flightwatch") {
        EXPECT_EQ(str(c["image"]), image);
      }
  compose_model c;
  for (const auto& kv : c.services) {
    auto img = str(kv.second["image"]);
    if (img.starts_with("flightwatch")) {
      EXPECT_EQ(img, image) << kv.first.as<std::string>();
    }
    if (kv.second["build"]) {
      EXPECT_EQ(str(kv.second["build"]["dockerfile"]), "deploy/docker/Dockerfile");
    }
  }
  auto dockerfile = read_text(deploy_dir / "docker" / "Dockerfile");
  EXPECT_NE(dockerfile.find("-t " + image), std::string::npos);
  EXPECT_NE(dockerfile.find("FROM debian:12-slim AS build"), std::string::npos);
  EXPECT_NE(dockerfile.find("EXPOSE 8080 7070"), std::string::npos);
  EXPECT_NE(dockerfile.find("COPY config/flightwatch.yaml config/sla.yaml /etc/flightwatch/"),
            std::string::npos);
  EXPECT_TRUE(std::regex_search(dockerfile, std::regex{R"(\nUSER [a-z])"})) << "non-root user";
  EXPECT_NE(dockerfile.find("/health"), std::string::npos);
  // The image's own FW_* variables are keys too.
  fw::config_sources src;
  src.environment = dockerfile_fw_env();
  auto loaded = fw::load_settings(src);
  EXPECT_TRUE(loaded.value) << loaded.error;
}

TEST(DeployPrometheus, PromtoolAcceptsEveryConfig) {
  if (!have_program("promtool"))
    GTEST_SKIP() << "promtool is not installed";
  temp_dir tmp;
  expect_promtool_accepts(deploy_dir / "prometheus" / "prometheus.yml", tmp);
  expect_promtool_accepts(compose_dir / "prometheus.yml", tmp);
  k8s_objects k;
  auto cm = k.find("ConfigMap", "prometheus-config");
  ASSERT_TRUE(cm);
  auto file = tmp.path() / "prometheus.yml";
  write_text(file, str(cm["data"]["prometheus.yml"]));
  expect_promtool_accepts(file, tmp);
  // Pod discovery keeps the annotated pods.
  auto text = str(cm["data"]["prometheus.yml"]);
  EXPECT_NE(text.find("__meta_kubernetes_pod_annotation_prometheus_io_scrape"), std::string::npos);
  EXPECT_NE(text.find("own_namespace: true"), std::string::npos);
  EXPECT_TRUE(k.find("Role", "prometheus") || k.find("ClusterRole", "prometheus"));
}

TEST(DeployScripts, EveryScriptParses) {
  std::size_t scripts = 0;
  for (const auto& e : fs::recursive_directory_iterator(deploy_dir))
    if (e.is_regular_file() && e.path().extension() == ".sh") {
      ++scripts;
      auto r = run("bash -n " + quote(e.path().string()));
      EXPECT_EQ(r.status, 0) << e.path() << ":\n" << r.output;
      EXPECT_TRUE((fs::status(e.path()).permissions() & fs::perms::owner_exec) != fs::perms::none)
        << e.path() << " is not executable";
    }
  EXPECT_GE(scripts, 6u);
}

TEST(DeployScripts, DeployShHelpsAndFailsClearlyWithoutItsTools) {
  auto script = (k8s_dir / "deploy.sh").string();
  auto help = run("bash " + quote(script) + " -h");
  EXPECT_EQ(help.status, 0) << help.output;
  for (const auto* word : {"up", "down", "--port-forward", "--ingress", "-h"})
    EXPECT_NE(help.output.find(word), std::string::npos) << word;
  // A PATH with bash and coreutils only: no docker, kind or kubectl.
  temp_dir tmp;
  for (const auto* tool : {"bash", "dirname", "basename", "cat", "grep", "rm", "mktemp"}) {
    auto r = run(std::string{"command -v "} + tool);
    auto path = r.output.substr(0, r.output.find('\n'));
    ASSERT_EQ(r.status, 0) << tool;
    fs::create_symlink(path, tmp.path() / tool);
  }
  auto env = "env -i PATH=" + quote(tmp.path().string()) + " ";
  auto up = run(env + tmp.path().string() + "/bash " + quote(script) + " up");
  EXPECT_EQ(up.status, 1) << up.output;
  EXPECT_NE(up.output.find("docker is not installed"), std::string::npos) << up.output;
  auto down = run(env + tmp.path().string() + "/bash " + quote(script) + " down");
  EXPECT_EQ(down.status, 1) << down.output;
  EXPECT_NE(down.output.find("kind is not installed"), std::string::npos) << down.output;
  auto bad = run(env + tmp.path().string() + "/bash " + quote(script) + " sideways");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("unknown action"), std::string::npos) << bad.output;
}

TEST(DeploySystemd, UnitIsHardenedAndVerifies) {
  auto unit_path = deploy_dir / "systemd" / "flightwatch.service";
  auto unit = read_text(unit_path);
  for (const auto* line :
       {"User=flightwatch", "StateDirectory=flightwatch", "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/flightwatch", "NoNewPrivileges=yes", "Restart=on-failure",
        "KillSignal=SIGTERM", "EnvironmentFile=-/etc/flightwatch/env",
        "ExecStart=/usr/local/bin/flightwatch --config /etc/flightwatch/flightwatch.yaml"})
    EXPECT_NE(unit.find(std::string{"\n"} + line + "\n"), std::string::npos) << line;
  EXPECT_EQ(unit.find("ExecReload"), std::string::npos);
  // Stopping fits: shutdown_timeout per child (6 roles, topics, storage).
  std::smatch m;
  ASSERT_TRUE(std::regex_search(unit, m, std::regex{R"(\nTimeoutStopSec=(\d+)s\n)"}));
  fw::config_sources src;
  src.file = (source / "config" / "flightwatch.yaml").string();
  auto s = fw::load_settings(src);
  ASSERT_TRUE(s.value) << s.error;
  EXPECT_GE(std::stol(m[1].str()) * 1000,
            static_cast<long>(8 * s.value->node.shutdown_timeout.count()));

  if (!have_program("systemd-analyze"))
    GTEST_SKIP() << "systemd-analyze is not installed: unit syntax not verified";
  // The binary is not installed here: verify a copy whose ExecStart names /bin/true.
  temp_dir tmp;
  auto copy = tmp.path() / "flightwatch.service";
  write_text(copy, std::regex_replace(unit, std::regex{R"(ExecStart=/usr/local/bin/flightwatch)"},
                                      "ExecStart=/bin/true"));
  auto r = run("systemd-analyze verify " + quote(copy.string()));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("flightwatch.service:"), std::string::npos) << r.output;
}
