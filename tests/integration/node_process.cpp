#include "tests/integration/node_process.hpp"

#include "tests/support/net.hpp"

namespace fw::test {

std::string flightwatch_binary() {
  return FW_FLIGHTWATCH_PATH;
}

node_process::node_process(options opts) : port_(opts.port ? opts.port : free_port()) {
  child_process::options o;
  o.argv.push_back(opts.binary.empty() ? flightwatch_binary() : opts.binary);
  for (auto& a : opts.args)
    o.argv.push_back(a);
  o.env = {{"FW_GATEWAY_PORT", std::to_string(port_)},
           {"FW_STORAGE_URL", "sqlite://" + (dir_.path() / "fw.db").string()},
           {"FW_NODE_NAME", "test-node"}};
  for (auto& e : opts.env)
    o.env.push_back(e);
  proc_ = std::make_unique<child_process>(std::move(o));
  if (opts.wait_ready)
    wait_ready();
}

std::string node_process::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

bool node_process::wait_ready(std::chrono::milliseconds timeout) {
  return wait_until([this] { return http_get(url() + "/health").status == 200; }, timeout,
                    std::chrono::milliseconds{20});
}

} // namespace fw::test
