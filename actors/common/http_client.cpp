#include "actors/common/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>

namespace fw {

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t on_body(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* out) {
  std::string line{data, size * count};
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto value = line.substr(colon + 1);
    auto first = value.find_first_not_of(" \t");
    auto last = value.find_last_not_of(" \t\r\n");
    (*static_cast<std::map<std::string, std::string>*>(out))[name] =
      first == std::string::npos ? std::string{} : value.substr(first, last - first + 1);
  }
  return size * count;
}

/// libcurl's progress callback: a non-zero answer aborts the transfer.
int on_progress(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(flag)->load() ? 1 : 0;
}

} // namespace

http_client::http_client() {
  global_init();
  curl_ = curl_easy_init();
  if (!curl_)
    throw std::runtime_error("curl_easy_init failed");
}

http_client::~http_client() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

http_reply http_client::request(const std::string& method, const std::string& url,
                                const std::vector<std::string>& headers,
                                const std::string& body, std::chrono::milliseconds timeout) {
  auto* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  http_reply reply;
  curl_slist* header_list = nullptr;
  for (const auto& h : headers)
    header_list = curl_slist_append(header_list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<long>(timeout.count(), 5000)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROXY, ""); // never through a proxy from the environment
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  if (cancel_) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, cancel_.get());
  }
  if (method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  const auto started = std::chrono::steady_clock::now();
  auto rc = curl_easy_perform(curl);
  reply.elapsed = std::chrono::steady_clock::now() - started;
  curl_slist_free_all(header_list);
  if (rc != CURLE_OK) {
    reply.error = rc == CURLE_ABORTED_BY_CALLBACK ? "cancelled" : curl_easy_strerror(rc);
    reply.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    reply.body.clear();
    return reply;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

std::string http_client::escape(const std::string& value) {
  global_init();
  char* out = curl_escape(value.c_str(), static_cast<int>(value.size()));
  std::string result = out ? out : "";
  curl_free(out);
  return result;
}

} // namespace fw
