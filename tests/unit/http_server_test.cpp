// Tests for the gateway's HTTP/1.1 server core (gateway/http_server.hpp) over loopback.
// Clients: libcurl for ordinary HTTP/HTTPS, raw POSIX sockets where curl cannot express
// the request (malformed input, pipelining, oversized headers, slow clients).
#include "gateway/http_server.hpp"
#include "gateway/responses.hpp"

#include <gtest/gtest.h>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace gw = fw::gateway;
namespace http = gw::http;
using json = nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::chrono::milliseconds since(steady::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
    ++i;
  return s.substr(i);
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = steady::now() + timeout;
  while (steady::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// -- libcurl client ------------------------------------------------------------------

struct curl_global {
  curl_global() { curl_global_init(CURL_GLOBAL_ALL); }
  ~curl_global() { curl_global_cleanup(); }
} curl_global_instance;

/// Headers and body of a response, as both clients below see it.
struct response_text {
  std::map<std::string, std::string> headers; // lower-case names
  std::string body;

  json body_json() const { return json::parse(body); }
  std::string header(const std::string& name) const {
    auto i = headers.find(lower(name));
    return i == headers.end() ? std::string{} : i->second;
  }
};

struct http_result : response_text {
  CURLcode code = CURLE_OK;
  long status = 0;
  long new_connections = 0;
  long local_port = 0;
  std::string error;
};

struct request_options {
  std::string method = "GET";
  std::optional<std::string> body;
  std::vector<std::string> headers;
  bool insecure_tls = false;
  long timeout_ms = 10000;

  request_options& post(std::string b) {
    method = "POST";
    body = std::move(b);
    return *this;
  }
  request_options& header(std::string h) {
    headers.push_back(std::move(h));
    return *this;
  }
  request_options& insecure() {
    insecure_tls = true;
    return *this;
  }
  request_options& timeout(long ms) {
    timeout_ms = ms;
    return *this;
  }
};

request_options opts() {
  return {};
}

/// One easy handle: consecutive requests reuse its connection (keep-alive).
class curl_client {
public:
  curl_client() : h_(curl_easy_init()) {}
  ~curl_client() { curl_easy_cleanup(h_); }
  curl_client(const curl_client&) = delete;
  curl_client& operator=(const curl_client&) = delete;

  http_result perform(const std::string& url, const request_options& o = {}) {
    http_result r;
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_reset(h_); // keeps the connection cache
    curl_easy_setopt(h_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h_, CURLOPT_TIMEOUT_MS, o.timeout_ms);
    curl_easy_setopt(h_, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h_, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(h_, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h_, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(h_, CURLOPT_HEADERDATA, &r);
    if (o.body) {
      curl_easy_setopt(h_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(o.body->size()));
      curl_easy_setopt(h_, CURLOPT_POSTFIELDS, o.body->data());
    }
    if (o.method != "GET" && o.method != "POST")
      curl_easy_setopt(h_, CURLOPT_CUSTOMREQUEST, o.method.c_str());
    if (o.method == "POST" && !o.body)
      curl_easy_setopt(h_, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t{0});
    if (o.insecure_tls) {
      curl_easy_setopt(h_, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(h_, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_slist* list = nullptr;
    for (const auto& h : o.headers)
      list = curl_slist_append(list, h.c_str());
    if (list != nullptr)
      curl_easy_setopt(h_, CURLOPT_HTTPHEADER, list);
    r.code = curl_easy_perform(h_);
    curl_slist_free_all(list);
    r.error = errbuf;
    curl_easy_getinfo(h_, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(h_, CURLINFO_NUM_CONNECTS, &r.new_connections);
    curl_easy_getinfo(h_, CURLINFO_LOCAL_PORT, &r.local_port);
    return r;
  }

private:
  static size_t on_body(char* data, size_t, size_t n, void* user) {
    static_cast<http_result*>(user)->body.append(data, n);
    return n;
  }
  static size_t on_header(char* data, size_t, size_t n, void* user) {
    auto* r = static_cast<http_result*>(user);
    std::string line{data, n};
    if (line.rfind("HTTP/", 0) == 0) { // a new status line (e.g. after 100 Continue)
      r->headers.clear();
    } else if (auto colon = line.find(':'); colon != std::string::npos) {
      r->headers[lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
    }
    return n;
  }

  CURL* h_;
};

http_result fetch(const std::string& url, const request_options& o = {}) {
  curl_client c;
  return c.perform(url, o);
}

// -- raw socket client ----------------------------------------------------------------

struct raw_response : response_text {
  std::string version;
  int status = 0;
};

class raw_client {
public:
  explicit raw_client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0)
      throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect() failed");
    }
  }
  ~raw_client() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  /// Sends everything; false if the peer is gone.
  bool send(std::string_view data) {
    while (!data.empty()) {
      auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  /// Reads one response (skipping 1xx); nullopt on timeout or connection end.
  std::optional<raw_response> read_response(std::chrono::milliseconds timeout = 5s,
                                            bool head_request = false) {
    auto deadline = steady::now() + timeout;
    for (;;) {
      auto end = buf_.find("\r\n\r\n");
      while (end == std::string::npos) {
        if (!fill(deadline))
          return std::nullopt;
        end = buf_.find("\r\n\r\n");
      }
      raw_response r;
      std::string head = buf_.substr(0, end);
      size_t pos = head.find("\r\n");
      std::string status_line = head.substr(0, pos);
      r.version = status_line.substr(0, status_line.find(' '));
      r.status = std::atoi(status_line.c_str() + status_line.find(' ') + 1);
      while (pos != std::string::npos && pos < head.size()) {
        auto next = head.find("\r\n", pos + 2);
        auto line = head.substr(pos + 2, next == std::string::npos ? std::string::npos
                                                                   : next - pos - 2);
        if (auto colon = line.find(':'); colon != std::string::npos)
          r.headers[lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
        pos = next;
      }
      buf_.erase(0, end + 4);
      if (r.status >= 100 && r.status < 200)
        continue;
      if (head_request) // no body follows
        return r;
      if (auto cl = r.header("content-length"); !cl.empty()) {
        auto len = static_cast<size_t>(std::stoul(cl));
        while (buf_.size() < len)
          if (!fill(deadline))
            return std::nullopt;
        r.body = buf_.substr(0, len);
        buf_.erase(0, len);
      } else {
        while (fill(deadline)) {
        }
        r.body = std::move(buf_);
        buf_.clear();
      }
      return r;
    }
  }

  /// True if the server closes (EOF or reset) within `timeout`; data is discarded.
  bool wait_closed(std::chrono::milliseconds timeout = 5s) {
    auto deadline = steady::now() + timeout;
    while (fill(deadline))
      buf_.clear();
    return closed_;
  }

private:
  /// Reads more into buf_; false on timeout or connection end (closed_ then set).
  bool fill(steady::time_point deadline) {
    if (closed_)
      return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return false;
    char tmp[16384];
    auto n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
  bool closed_ = false;
};

// -- helpers -------------------------------------------------------------------------

/// Runs functions after a delay on its own thread (stands in for a CAF worker).
class delayed_runner {
public:
  delayed_runner() : thread_([this] { run(); }) {}
  ~delayed_runner() {
    {
      std::lock_guard<std::mutex> lk{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void after(std::chrono::milliseconds delay, std::function<void()> f) {
    {
      std::lock_guard<std::mutex> lk{mtx_};
      tasks_.emplace_back(steady::now() + delay, std::move(f));
    }
    cv_.notify_all();
  }
  std::thread::id id() const { return thread_.get_id(); }

private:
  void run() {
    std::unique_lock<std::mutex> lk{mtx_};
    while (!stop_) {
      if (tasks_.empty()) {
        cv_.wait(lk);
        continue;
      }
      auto it = std::min_element(tasks_.begin(), tasks_.end(),
                                 [](auto& a, auto& b) { return a.first < b.first; });
      if (auto due = it->first; due > steady::now()) {
        cv_.wait_until(lk, due); // by value: tasks_ may reallocate meanwhile
        continue;
      }
      auto f = std::move(it->second);
      tasks_.erase(it);
      lk.unlock();
      f();
      f = nullptr;
      lk.lock();
    }
    auto rest = std::move(tasks_);
    lk.unlock(); // unrun tasks are dropped (their responders answer 500 or are ignored)
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::pair<steady::time_point, std::function<void()>>> tasks_;
  bool stop_ = false;
  std::thread thread_;
};

/// Collects log lines from any thread.
struct log_sink {
  std::mutex mtx;
  std::vector<std::string> lines;
  std::function<void(std::string_view)> fn() {
    return [this](std::string_view l) {
      std::lock_guard<std::mutex> lk{mtx};
      lines.emplace_back(l);
    };
  }
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> lk{mtx};
    return lines;
  }
};

gw::server_options test_options() {
  gw::server_options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.access_log = false;
  return o;
}

/// Answers {"method","target","body"} synchronously.
void echo(gw::request&& req, gw::responder done) {
  json body{{"method", std::string{req.method_string()}},
            {"target", std::string{req.target()}},
            {"body", req.body()}};
  done(gw::json_response(http::status::ok, body, req.version(), req.keep_alive()));
}

std::unique_ptr<gw::http_server> start_server(gw::server_options o, gw::request_handler h) {
  auto s = std::make_unique<gw::http_server>(std::move(o), std::move(h));
  s->start();
  return s;
}

std::string url(const gw::http_server& s, const std::string& target = "/") {
  return "http://127.0.0.1:" + std::to_string(s.port()) + target;
}

void expect_json_error(const http_result& r, long status, const std::string& error) {
  EXPECT_EQ(r.code, CURLE_OK) << r.error;
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("server"), "flightwatch");
  auto j = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j.value("error", ""), error) << r.body;
  EXPECT_TRUE(j.contains("message")) << r.body;
}

void expect_json_error(const raw_response& r, int status, const std::string& error) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("server"), "flightwatch");
  auto j = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j.value("error", ""), error) << r.body;
  EXPECT_TRUE(j.contains("message")) << r.body;
}

/// A self-signed certificate made with the openssl CLI in a fresh temp directory.
struct temp_cert {
  std::filesystem::path dir;
  std::filesystem::path cert, key;
  temp_cert() {
    char tmpl[] = "/tmp/fw_http_server_test_XXXXXX";
    if (::mkdtemp(tmpl) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    cert = dir / "cert.pem";
    key = dir / "key.pem";
    auto cmd = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout '"
               + key.string() + "' -out '" + cert.string() + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0)
      throw std::runtime_error("openssl req failed");
  }
  ~temp_cert() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

const std::string simple_get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

} // namespace

// -- basic request/response ------------------------------------------------------------

TEST(HttpServer, SyncResponderAnswersWithJson) {
  auto server = start_server(test_options(), echo);
  ASSERT_NE(server->port(), 0);
  auto r = fetch(url(*server, "/hello?x=1"));
  ASSERT_EQ(r.code, CURLE_OK) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("server"), "flightwatch");
  auto j = r.body_json();
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["target"], "/hello?x=1");
  auto p = fetch(url(*server, "/p"), opts().post("payload"));
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.body_json()["body"], "payload");
}

TEST(HttpServer, AsyncResponderFromAnotherThreadAfterDelay) {
  delayed_runner worker;
  std::atomic<bool> on_io_thread_differs{false};
  auto server = start_server(test_options(), [&](gw::request&& req, gw::responder done) {
    on_io_thread_differs = std::this_thread::get_id() != worker.id();
    auto target = std::string{req.target()};
    worker.after(50ms, [done, target] {
      done(gw::json_response(http::status::accepted, {{"target", target}}));
    });
  });
  auto t0 = steady::now();
  auto r = fetch(url(*server, "/later"));
  EXPECT_GE(since(t0), 45ms);
  ASSERT_EQ(r.code, CURLE_OK) << r.error;
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body_json()["target"], "/later");
  EXPECT_TRUE(on_io_thread_differs);
}

TEST(HttpServer, ServerFixesUpHandlerResponses) {
  auto server = start_server(test_options(), [](gw::request&&, gw::responder done) {
    gw::response res{http::status::ok, 11};
    res.body() = "plain"; // no Content-Length, no Server header
    done(std::move(res));
  });
  raw_client c{server->port()};
  ASSERT_TRUE(c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->version, "HTTP/1.0"); // follows the request
  EXPECT_EQ(r->header("content-length"), "5");
  EXPECT_EQ(r->header("server"), "flightwatch");
  EXPECT_EQ(lower(r->header("connection")), "keep-alive");
  EXPECT_EQ(r->body, "plain");
}

TEST(HttpServer, HeadResponsesCarryNoBody) {
  auto o = test_options();
  o.limits.request_timeout = 200ms;
  std::vector<gw::responder> parked;
  auto server = start_server(o, [&](gw::request&& req, gw::responder done) {
    if (req.target() == "/park") { // 504 generated by the server for a HEAD request
      parked.push_back(done);
      return;
    }
    echo(std::move(req), std::move(done));
  });
  raw_client c{server->port()};
  ASSERT_TRUE(c.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto h = c.read_response(5s, true);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_NE(h->header("content-length"), "0");
  ASSERT_TRUE(c.send("HEAD /park HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto t = c.read_response(5s, true);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, 504);
  // The framing is intact: the next response is read correctly.
  ASSERT_TRUE(c.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto g = c.read_response();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 200);
  EXPECT_EQ(g->body_json()["target"], "/after");
}

TEST(HttpServer, SharedBodiesAreSentWhole) {
  // A kept answer is shared with the response, not copied: the response alone keeps it
  // alive until it is written, also for several requests at once and for HEAD.
  std::mutex mx;
  std::vector<std::weak_ptr<const std::string>> sent;
  auto server = start_server(test_options(), [&](gw::request&&, gw::responder done) {
    auto page = std::make_shared<const std::string>("[" + std::string(70000, ' ') + "1]");
    {
      std::lock_guard lock{mx};
      sent.push_back(page);
    }
    done(gw::json_text_response(http::status::ok, std::move(page)));
  });
  raw_client c{server->port()};
  ASSERT_TRUE(c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (int i = 0; i < 2; ++i) {
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("content-length"), "70003");
    EXPECT_EQ(r->body_json(), json::array({1}));
  }
  ASSERT_TRUE(c.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto h = c.read_response(5s, true);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header("content-length"), "70003");
  EXPECT_EQ(h->body, "");
  // The session drops a response once written, before it reads the next request: when
  // the next answer arrives, nothing holds the earlier texts any more.
  ASSERT_TRUE(c.send(simple_get));
  ASSERT_TRUE(c.read_response());
  std::lock_guard lock{mx};
  ASSERT_EQ(sent.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(sent[i].expired()) << i;
}

TEST(HttpServer, HandlerMayForceConnectionClose) {
  auto server = start_server(test_options(), [](gw::request&&, gw::responder done) {
    done(gw::json_response(http::status::ok, {{"bye", true}}, 11, false));
  });
  raw_client c{server->port()};
  ASSERT_TRUE(c.send(simple_get));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(lower(r->header("connection")), "close");
  EXPECT_TRUE(c.wait_closed(2s));
}

// -- keep-alive, pipelining, HTTP/1.0 ----------------------------------------------------

TEST(HttpServer, KeepAliveReusesOneConnection) {
  auto server = start_server(test_options(), echo);
  curl_client c;
  auto a = c.perform(url(*server, "/one"));
  auto b = c.perform(url(*server, "/two"), opts().post("x"));
  ASSERT_EQ(a.code, CURLE_OK) << a.error;
  ASSERT_EQ(b.code, CURLE_OK) << b.error;
  EXPECT_EQ(a.body_json()["target"], "/one");
  EXPECT_EQ(b.body_json()["target"], "/two");
  EXPECT_EQ(a.new_connections, 1);
  EXPECT_EQ(b.new_connections, 0);
  EXPECT_EQ(a.local_port, b.local_port);
  EXPECT_EQ(server->active_connections(), 1u);
}

TEST(HttpServer, ActiveConnectionsDropsWhenClientsLeave) {
  auto server = start_server(test_options(), echo);
  {
    raw_client a{server->port()}, b{server->port()};
    EXPECT_TRUE(eventually([&] { return server->active_connections() == 2; }));
  }
  EXPECT_TRUE(eventually([&] { return server->active_connections() == 0; }));
}

TEST(HttpServer, PipelinedRequestsAnsweredInOrder) {
  delayed_runner worker;
  auto server = start_server(test_options(), [&](gw::request&& req, gw::responder done) {
    auto target = std::string{req.target()};
    auto delay = target == "/a" ? 150ms : target == "/b" ? 50ms : 0ms;
    worker.after(delay, [done, target] {
      done(gw::json_response(http::status::ok, {{"target", target}}));
    });
  });
  raw_client c{server->port()};
  ASSERT_TRUE(c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                     "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                     "GET /c HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (const char* want : {"/a", "/b", "/c"}) {
    auto r = c.read_response();
    ASSERT_TRUE(r) << want;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body_json()["target"], want);
  }
}

TEST(HttpServer, Http10WithoutKeepAliveIsClosedAfterResponse) {
  auto server = start_server(test_options(), echo);
  raw_client c{server->port()};
  ASSERT_TRUE(c.send("GET /old HTTP/1.0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->version, "HTTP/1.0");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body_json()["target"], "/old");
  EXPECT_TRUE(c.wait_closed(2s));
}

TEST(HttpServer, Http10WithKeepAliveStaysOpen) {
  auto server = start_server(test_options(), echo);
  raw_client c{server->port()};
  for (const char* target : {"/x", "/y"}) {
    ASSERT_TRUE(c.send(std::string{"GET "} + target + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->version, "HTTP/1.0");
    EXPECT_EQ(lower(r->header("connection")), "keep-alive");
    EXPECT_EQ(r->body_json()["target"], target);
  }
}

TEST(HttpServer, ExpectContinueIsAnsweredPromptly) {
  auto server = start_server(test_options(), [](gw::request&& req, gw::responder done) {
    done(gw::json_response(http::status::ok, {{"size", req.body().size()}}));
  });
  auto t0 = steady::now();
  auto r = fetch(url(*server, "/upload"), opts().post(std::string(200000, 'x')).header("Expect: 100-continue"));
  ASSERT_EQ(r.code, CURLE_OK) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body_json()["size"], 200000);
  EXPECT_LT(since(t0), 900ms); // curl waits 1 s when no "100 Continue" comes
}

// -- limits -----------------------------------------------------------------------------

TEST(HttpServer, BodyOverLimitGets413) {
  std::atomic<int> calls{0};
  auto o = test_options();
  o.limits.max_body_bytes = 1024;
  auto server = start_server(o, [&](gw::request&& req, gw::responder done) {
    ++calls;
    echo(std::move(req), std::move(done));
  });
  std::string big(2 << 20, 'b');
  // curl with and without "Expect: 100-continue"
  expect_json_error(fetch(url(*server, "/up"), opts().post(big)), 413,
                    "payload_too_large");
  expect_json_error(fetch(url(*server, "/up"), opts().post(big).header("Expect:")),
                    413, "payload_too_large");
  { // Content-Length announced up front, body never sent: answered right after the header
    raw_client c{server->port()};
    ASSERT_TRUE(c.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    expect_json_error(*r, 413, "payload_too_large");
    EXPECT_TRUE(c.wait_closed(3s));
  }
  { // chunked bodies are counted too
    raw_client c{server->port()};
    std::string chunk(1500, 'c');
    ASSERT_TRUE(c.send("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5dc\r\n"
                       + chunk + "\r\n0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    expect_json_error(*r, 413, "payload_too_large");
  }
  EXPECT_EQ(calls, 0);
  // exactly at the limit is fine
  auto ok = fetch(url(*server, "/up"), opts().post(std::string(1024, 'o')));
  EXPECT_EQ(ok.status, 200);
}

TEST(HttpServer, HugeHeaderGets431) {
  auto o = test_options();
  o.limits.max_header_bytes = 4096;
  auto server = start_server(o, echo);
  {
    raw_client c{server->port()};
    ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    expect_json_error(*r, 431, "header_too_large");
    EXPECT_TRUE(c.wait_closed(3s));
  }
  expect_json_error(fetch(url(*server), opts().header("X-Big: " + std::string(8000, 'h'))), 431,
                    "header_too_large");
  EXPECT_EQ(fetch(url(*server), opts().header("X-Small: " + std::string(1000, 'h'))).status, 200);
}

TEST(HttpServer, GarbageGets400AndClose) {
  std::atomic<int> calls{0};
  auto server = start_server(test_options(), [&](gw::request&& req, gw::responder done) {
    ++calls;
    echo(std::move(req), std::move(done));
  });
  for (std::string garbage : {"THIS IS NOT HTTP\r\n\r\n", "GET / HTTP/9.9.9\r\n\r\n",
                              "GET / HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
                              "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    raw_client c{server->port()};
    ASSERT_TRUE(c.send(garbage));
    auto r = c.read_response();
    ASSERT_TRUE(r) << garbage;
    expect_json_error(*r, 400, "bad_request");
    EXPECT_EQ(lower(r->header("connection")), "close");
    EXPECT_TRUE(c.wait_closed(3s)) << garbage;
  }
  EXPECT_EQ(calls, 0);
}

TEST(HttpServer, ConnectionsBeyondLimitGet503) {
  auto o = test_options();
  o.limits.max_connections = 2;
  auto server = start_server(o, echo);
  auto first = std::make_unique<raw_client>(server->port());
  raw_client second{server->port()};
  ASSERT_TRUE(eventually([&] { return server->active_connections() == 2; }));
  auto r = fetch(url(*server, "/over"));
  expect_json_error(r, 503, "overloaded");
  EXPECT_EQ(lower(r.header("connection")), "close");
  { // the served connections still work
    ASSERT_TRUE(second.send(simple_get));
    auto ok = second.read_response();
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
  }
  first.reset();
  ASSERT_TRUE(eventually([&] { return server->active_connections() == 1; }));
  EXPECT_EQ(fetch(url(*server, "/again")).status, 200);
}

// -- timeouts and responder semantics ------------------------------------------------------

TEST(HttpServer, HandlerNotAnsweringGets504AndLateAnswerIsIgnored) {
  auto o = test_options();
  o.limits.request_timeout = 300ms;
  std::mutex mtx;
  std::vector<gw::responder> parked;
  auto server = start_server(o, [&](gw::request&& req, gw::responder done) {
    if (req.target() == "/never") {
      std::lock_guard<std::mutex> lk{mtx};
      parked.push_back(done);
      return;
    }
    echo(std::move(req), std::move(done));
  });
  curl_client c;
  auto t0 = steady::now();
  auto r = c.perform(url(*server, "/never"));
  auto took = since(t0);
  expect_json_error(r, 504, "gateway_timeout");
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3000ms);
  {
    std::lock_guard<std::mutex> lk{mtx};
    ASSERT_EQ(parked.size(), 1u);
    EXPECT_FALSE(parked[0].answered());
    parked[0](gw::json_response(http::status::ok, {{"late", true}})); // ignored
    EXPECT_TRUE(parked[0].answered());
  }
  // The connection is still usable and carries the right answer.
  auto next = c.perform(url(*server, "/next"));
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.new_connections, 0);
  EXPECT_EQ(next.body_json()["target"], "/next");
}

TEST(HttpServer, DroppedResponderGets500) {
  auto server = start_server(test_options(), [](gw::request&&, gw::responder) {});
  expect_json_error(fetch(url(*server)), 500, "internal_error");
}

TEST(HttpServer, ResponderDroppedLaterOnAnotherThreadGets500) {
  delayed_runner worker;
  auto server = start_server(test_options(), [&](gw::request&&, gw::responder done) {
    worker.after(30ms, [done] {}); // the last copy dies on the worker thread
  });
  expect_json_error(fetch(url(*server)), 500, "internal_error");
}

TEST(HttpServer, ThrowingHandlerGets500) {
  auto server = start_server(test_options(), [](gw::request&&, gw::responder) {
    throw std::runtime_error("boom");
  });
  auto r = fetch(url(*server));
  expect_json_error(r, 500, "internal_error");
  EXPECT_EQ(r.body.find("boom"), std::string::npos); // no internals leak to clients
}

TEST(HttpServer, SecondCallOfResponderIsIgnored) {
  log_sink debug;
  auto o = test_options();
  o.log_debug = debug.fn();
  delayed_runner worker;
  auto server = start_server(o, [&](gw::request&& req, gw::responder done) {
    auto target = std::string{req.target()};
    done(gw::json_response(http::status::ok, {{"answer", "first"}, {"target", target}}));
    done(gw::json_response(http::status::ok, {{"answer", "second"}, {"target", target}}));
    worker.after(20ms, [done, target] {
      done(gw::json_response(http::status::ok, {{"answer", "third"}, {"target", target}}));
    });
  });
  curl_client c;
  auto a = c.perform(url(*server, "/1"));
  EXPECT_EQ(a.body_json()["answer"], "first");
  std::this_thread::sleep_for(60ms);
  auto b = c.perform(url(*server, "/2"));
  EXPECT_EQ(b.body_json()["answer"], "first");
  EXPECT_EQ(b.body_json()["target"], "/2");
  EXPECT_EQ(b.new_connections, 0);
  EXPECT_TRUE(eventually([&] { return debug.snapshot().size() >= 3; }));
}

TEST(HttpServer, SlowClientGets408AndIsClosed) {
  auto o = test_options();
  o.limits.request_timeout = 300ms;
  auto server = start_server(o, echo);
  raw_client c{server->port()};
  auto t0 = steady::now();
  ASSERT_TRUE(c.send("GET /slow HTTP/1.1\r\nHost: x\r\n")); // never finishes the header
  auto r = c.read_response(5s);
  ASSERT_TRUE(r);
  expect_json_error(*r, 408, "request_timeout");
  EXPECT_GE(since(t0), 250ms);
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST(HttpServer, SilentConnectionIsClosedAfterRequestTimeout) {
  auto o = test_options();
  o.limits.request_timeout = 200ms;
  auto server = start_server(o, echo);
  raw_client c{server->port()};
  auto t0 = steady::now();
  EXPECT_TRUE(c.wait_closed(3s));
  EXPECT_GE(since(t0), 150ms);
}

TEST(HttpServer, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  auto o = test_options();
  o.limits.idle_timeout = 300ms;
  auto server = start_server(o, echo);
  raw_client c{server->port()};
  ASSERT_TRUE(c.send(simple_get));
  ASSERT_TRUE(c.read_response());
  auto t0 = steady::now();
  EXPECT_TRUE(c.wait_closed(3s));
  EXPECT_GE(since(t0), 250ms);
  EXPECT_TRUE(eventually([&] { return server->active_connections() == 0; }));
}

// -- stop --------------------------------------------------------------------------------

TEST(HttpServer, StopLetsInFlightRequestFinishWithinDrain) {
  delayed_runner worker;
  std::atomic<bool> handler_called{false};
  auto server = start_server(test_options(), [&](gw::request&&, gw::responder done) {
    handler_called = true;
    worker.after(300ms, [done] { done(gw::json_response(http::status::ok, {{"done", true}})); });
  });
  http_result r;
  std::thread client{[&] { r = fetch(url(*server, "/slow")); }};
  ASSERT_TRUE(eventually([&] { return handler_called.load(); }));
  auto t0 = steady::now();
  server->stop(5s);
  auto took = since(t0);
  client.join();
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 3000ms);
  ASSERT_EQ(r.code, CURLE_OK) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(lower(r.header("connection")), "close");
  EXPECT_EQ(server->active_connections(), 0u);
  // No longer accepting.
  EXPECT_NE(fetch(url(*server), opts().timeout(2000)).code, CURLE_OK);
}

TEST(HttpServer, StopCutsRequestsThatOutlastTheDrain) {
  std::mutex mtx;
  std::vector<gw::responder> parked;
  std::atomic<bool> handler_called{false};
  auto server = start_server(test_options(), [&](gw::request&&, gw::responder done) {
    std::lock_guard<std::mutex> lk{mtx};
    parked.push_back(done);
    handler_called = true;
  });
  http_result r;
  std::thread client{[&] { r = fetch(url(*server, "/forever")); }};
  ASSERT_TRUE(eventually([&] { return handler_called.load(); }));
  auto t0 = steady::now();
  server->stop(200ms);
  auto took = since(t0);
  client.join();
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 2000ms);
  EXPECT_NE(r.code, CURLE_OK);
  // Answering after stop and after destruction is harmless.
  std::lock_guard<std::mutex> lk{mtx};
  parked[0](gw::json_response(http::status::ok, {{"late", true}}));
  server.reset();
  parked.push_back(parked[0]);
  parked.clear(); // last copies die after the server
}

TEST(HttpServer, StopClosesIdleKeepAliveConnectionsPromptly) {
  auto server = start_server(test_options(), echo);
  std::vector<std::unique_ptr<raw_client>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<raw_client>(server->port()));
    ASSERT_TRUE(clients.back()->send(simple_get));
    ASSERT_TRUE(clients.back()->read_response());
  }
  clients.push_back(std::make_unique<raw_client>(server->port())); // never sends anything
  curl_client kept;
  ASSERT_EQ(kept.perform(url(*server)).status, 200);
  ASSERT_TRUE(eventually([&] { return server->active_connections() == 7; }));
  auto t0 = steady::now();
  server->stop(10s);
  EXPECT_LT(since(t0), 500ms);
  EXPECT_EQ(server->active_connections(), 0u);
  for (auto& c : clients)
    EXPECT_TRUE(c->wait_closed(1s));
}

TEST(HttpServer, StopIsIdempotentAndSafeInAnyState) {
  {
    gw::http_server never_started{test_options(), echo};
    never_started.stop(1s);
    never_started.stop(1s);
    EXPECT_THROW(never_started.start(), std::logic_error);
  }
  auto server = start_server(test_options(), echo);
  EXPECT_THROW(server->start(), std::logic_error);
  EXPECT_EQ(fetch(url(*server)).status, 200);
  std::thread other{[&] { server->stop(1s); }};
  server->stop(1s);
  other.join();
  server->stop(0ms);
  server.reset(); // destructor after stop
  auto dropped = start_server(test_options(), echo); // destructor without stop
  EXPECT_EQ(fetch(url(*dropped)).status, 200);
}

TEST(HttpServer, StartFailsClearlyWhenPortIsTaken) {
  auto first = start_server(test_options(), echo);
  auto o = test_options();
  o.port = first->port();
  gw::http_server second{o, echo};
  try {
    second.start();
    FAIL() << "start() should throw";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string{e.what()}, "cannot listen on 127.0.0.1:" + std::to_string(o.port)
                                       + ": Address already in use");
  }
}

// -- access log ----------------------------------------------------------------------------

TEST(HttpServer, AccessLogHasOneLinePerResponseWithoutSecrets) {
  log_sink info;
  auto o = test_options();
  o.access_log = true;
  o.log_info = info.fn();
  auto server = start_server(o, echo);
  auto r = fetch(url(*server, "/log/path?q=1"), opts().post("top-secret-body").header("Authorization: Bearer s3cr3t"));
  ASSERT_EQ(r.status, 200);
  {
    raw_client c{server->port()};
    ASSERT_TRUE(c.send("NONSENSE\r\n\r\n"));
    ASSERT_TRUE(c.read_response());
  }
  ASSERT_TRUE(eventually([&] { return info.snapshot().size() == 2; }));
  auto lines = info.snapshot();
  std::regex ok{R"(^127\.0\.0\.1:\d+ "POST /log/path\?q=1" 200 (\d+) \d+\.\d{3}ms$)"};
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, ok)) << lines[0];
  EXPECT_EQ(std::stoul(m[1]), r.body.size());
  EXPECT_EQ(lines[0].find("s3cr3t"), std::string::npos);
  EXPECT_EQ(lines[0].find("top-secret"), std::string::npos);
  std::regex bad{R"(^127\.0\.0\.1:\d+ "- -" 400 \d+ \d+\.\d{3}ms$)"};
  EXPECT_TRUE(std::regex_match(lines[1], bad)) << lines[1];
}

TEST(HttpServer, AccessLogOffLogsNothing) {
  log_sink info;
  auto o = test_options();
  o.access_log = false;
  o.log_info = info.fn();
  auto server = start_server(o, echo);
  EXPECT_EQ(fetch(url(*server)).status, 200);
  server->stop(1s);
  EXPECT_TRUE(info.snapshot().empty());
}

// -- concurrency ---------------------------------------------------------------------------

TEST(HttpServer, ManyClientsOnSeveralIoThreads) {
  delayed_runner worker;
  auto o = test_options();
  o.io_threads = 2;
  std::atomic<int> n{0};
  auto server = start_server(o, [&](gw::request&& req, gw::responder done) {
    if (n++ % 2 == 0) {
      echo(std::move(req), std::move(done));
      return;
    }
    auto target = std::string{req.target()};
    worker.after(1ms, [done, target] {
      done(gw::json_response(http::status::ok, {{"target", target}}));
    });
  });
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&, t] {
      curl_client c;
      for (int i = 0; i < 25; ++i) {
        auto target = "/c" + std::to_string(t) + "/" + std::to_string(i);
        auto r = c.perform(url(*server, target));
        if (r.status == 200 && r.body_json()["target"] == target)
          ++good;
      }
    });
  for (auto& c : clients)
    c.join();
  EXPECT_EQ(good, 200);
  server->stop(2s);
}

// -- TLS -----------------------------------------------------------------------------------

TEST(HttpServer, TlsServesHttpsAndPlainPortRedirects) {
  temp_cert cert;
  auto o = test_options();
  o.tls = gw::tls_options{cert.cert.string(), cert.key.string(), 0};
  std::atomic<int> calls{0};
  auto server = start_server(o, [&](gw::request&& req, gw::responder done) {
    ++calls;
    echo(std::move(req), std::move(done));
  });
  ASSERT_NE(server->tls_port(), 0);
  ASSERT_NE(server->tls_port(), server->port());
  const auto https = "https://127.0.0.1:" + std::to_string(server->tls_port());

  curl_client c;
  auto a = c.perform(https + "/secure?x=1", opts().insecure());
  ASSERT_EQ(a.code, CURLE_OK) << a.error;
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body_json()["target"], "/secure?x=1");
  auto b = c.perform(https + "/again", opts().post("tls body").insecure());
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(b.body_json()["body"], "tls body");
  EXPECT_EQ(b.new_connections, 0);
  EXPECT_EQ(calls, 2);

  auto r = fetch(url(*server, "/secure?x=1"));
  expect_json_error(r, 308, "https_required");
  EXPECT_EQ(r.header("location"), https + "/secure?x=1");
  auto named = fetch(url(*server, "/p"), opts().header("Host: flights.example.org:8080"));
  EXPECT_EQ(named.status, 308);
  EXPECT_EQ(named.header("location"),
            "https://flights.example.org:" + std::to_string(server->tls_port()) + "/p");
  EXPECT_EQ(calls, 2); // redirects never reach the handler

  // TLS errors: a plain-text request on the TLS port does not break the server.
  {
    raw_client plain{server->tls_port()};
    ASSERT_TRUE(plain.send(simple_get));
    EXPECT_TRUE(plain.wait_closed(3s));
  }
  EXPECT_EQ(c.perform(https + "/still", opts().insecure()).status, 200);
  auto t0 = steady::now();
  server->stop(5s);
  EXPECT_LT(since(t0), 1000ms); // the idle TLS keep-alive connection closes at once
}

TEST(HttpServer, TlsWithBadFilesFailsStart) {
  temp_cert cert;
  {
    auto o = test_options();
    o.tls = gw::tls_options{(cert.dir / "missing.pem").string(), cert.key.string(), 0};
    gw::http_server s{o, echo};
    try {
      s.start();
      FAIL() << "start() should throw";
    } catch (const std::runtime_error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("missing.pem"), std::string::npos) << what;
      EXPECT_NE(what.find("certificate"), std::string::npos) << what;
    }
  }
  {
    auto garbage = cert.dir / "garbage.pem";
    std::ofstream{garbage} << "not a certificate\n";
    auto o = test_options();
    o.tls = gw::tls_options{garbage.string(), cert.key.string(), 0};
    gw::http_server s{o, echo};
    EXPECT_THROW(s.start(), std::runtime_error);
  }
  {
    temp_cert other;
    auto o = test_options();
    o.tls = gw::tls_options{cert.cert.string(), other.key.string(), 0};
    gw::http_server s{o, echo};
    try {
      s.start();
      FAIL() << "start() should throw";
    } catch (const std::runtime_error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("private key"), std::string::npos) << what;
      EXPECT_NE(what.find("mismatch"), std::string::npos) << what;
    }
  }
}

TEST(HttpResponder, FromCallbackAnswersOnceOrWith500WhenDropped) {
  std::vector<unsigned> statuses;
  auto record = [&](gw::response&& res) { statuses.push_back(res.result_int()); };
  {
    auto r = gw::responder::from_callback(record);
    auto copy = r;
    EXPECT_TRUE(r);
    EXPECT_FALSE(copy.answered());
    r(gw::json_response(http::status::created, {{"ok", true}}));
    copy(gw::json_response(http::status::ok, {{"again", true}})); // ignored
    EXPECT_TRUE(copy.answered());
  }
  { auto dropped = gw::responder::from_callback(record); }
  EXPECT_EQ(statuses, (std::vector<unsigned>{201, 500}));
  gw::responder empty;
  EXPECT_FALSE(empty);
  empty(gw::json_response(http::status::ok, {})); // no-op
}

// -- responses.hpp ---------------------------------------------------------------------------

TEST(HttpResponses, ErrorResponseShape) {
  auto res = gw::error_response(http::status::not_found, "not_found", "no route for /x", 10, true);
  EXPECT_EQ(res.result(), http::status::not_found);
  EXPECT_EQ(res.version(), 10u);
  EXPECT_TRUE(res.keep_alive());
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(res[http::field::server], "flightwatch");
  EXPECT_EQ(res[http::field::content_length], std::to_string(res.body().size()));
  EXPECT_EQ(json::parse(res.body().view()), (json{{"error", "not_found"}, {"message", "no route for /x"}}));
  auto bad_utf8 = gw::error_response(http::status::bad_request, "bad", "\xff\xfe", 11, false);
  EXPECT_FALSE(bad_utf8.keep_alive());
  EXPECT_TRUE(json::accept(bad_utf8.body().view()));
}
