// The router alone: matching, path parameters, 404/405/400 as JSON, metrics per route.

#include "gateway/router.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace {

using namespace fw::gateway;

struct router_test : ::testing::Test {
  fw::node_metrics node{"n1"};
  router r{std::make_shared<http_metrics>(node)};
  std::map<std::string, std::string> seen_params;
  std::map<std::string, std::string> seen_query;
  std::optional<nlohmann::json> seen_json;

  router_test() {
    auto record = [this](const char* name) {
      return [this, name](request_context& c, reply_fn reply) {
        seen_params = c.params;
        seen_query = c.query;
        seen_json = c.json;
        reply(json_response_for(name));
      };
    };
    r.add(http::verb::get, "/user-manager/users/{email}", "user-manager", record("get"));
    r.add(http::verb::delete_, "/user-manager/users/{email}", "user-manager", record("delete"));
    r.add(http::verb::post, "/user-manager/users", "user-manager", record("post"));
    r.add(http::verb::get, "/data-collector/flights/{airport}", "data-collector", record("f"));
  }

  static response json_response_for(const char* name) {
    response res{http::status::ok, 11};
    res.body() = name;
    return res;
  }

  response call(http::verb method, std::string target, std::string body = {},
                std::string content_type = {}) {
    request req{method, target, 11};
    if (!content_type.empty())
      req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    std::optional<response> out;
    r.dispatch(std::move(req), [&](response res) { out = std::move(res); });
    EXPECT_TRUE(out) << "no response for " << target;
    return out ? *out : response{};
  }

  static nlohmann::json json_of(const response& res) {
    return nlohmann::json::parse(res.body().view(), nullptr, false);
  }
};

TEST_F(router_test, matches_method_and_decodes_path_parameters) {
  auto res = call(http::verb::get, "/user-manager/users/mario.rossi%40gmail.com");
  EXPECT_EQ(res.body(), "get");
  EXPECT_EQ(seen_params["email"], "mario.rossi@gmail.com");
  res = call(http::verb::delete_, "/user-manager/users/a+b@x.it");
  EXPECT_EQ(res.body(), "delete");
  EXPECT_EQ(seen_params["email"], "a+b@x.it"); // '+' is literal in paths
}

TEST_F(router_test, parses_query_parameters) {
  call(http::verb::get, "/data-collector/flights/LIRF?type=departures&x=a+b%21");
  EXPECT_EQ(seen_params["airport"], "LIRF");
  EXPECT_EQ(seen_query["type"], "departures");
  EXPECT_EQ(seen_query["x"], "a b!");
}

TEST_F(router_test, unknown_path_is_404_json) {
  auto res = call(http::verb::get, "/user-manager/nothing/here");
  EXPECT_EQ(res.result(), http::status::not_found);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(json_of(res)["error"], "not_found");
  EXPECT_EQ(json_of(res)["message"], "no route for /user-manager/nothing/here");
}

TEST_F(router_test, known_path_with_other_method_is_405_with_allow) {
  auto res = call(http::verb::put, "/user-manager/users/x@y.z");
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(res[http::field::allow], "GET, DELETE");
  EXPECT_EQ(json_of(res)["error"], "method_not_allowed");
}

TEST_F(router_test, json_bodies_are_parsed_and_bad_json_is_400) {
  auto res = call(http::verb::post, "/user-manager/users", R"({"email":"a@b.c"})",
                  "application/json");
  EXPECT_EQ(res.body(), "post");
  ASSERT_TRUE(seen_json);
  EXPECT_EQ((*seen_json)["email"], "a@b.c");
  res = call(http::verb::post, "/user-manager/users", R"({"email":)", "application/json");
  EXPECT_EQ(res.result(), http::status::bad_request);
  EXPECT_EQ(json_of(res)["error"], "invalid_json");
}

TEST_F(router_test, metrics_label_requests_by_route_pattern) {
  call(http::verb::get, "/user-manager/users/a@b.c");
  call(http::verb::get, "/user-manager/users/d@e.f");
  call(http::verb::get, "/nope");
  auto text = node.scrape();
  EXPECT_NE(text.find("http_requests_total{method=\"GET\",node=\"n1\",route=\"/user-manager/"
                      "users/{email}\",service=\"user_manager\",status=\"200\"} 2"),
            std::string::npos)
    << text;
  EXPECT_NE(text.find("route=\"unmatched\",service=\"gateway\",status=\"404\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("http_requests_in_progress{node=\"n1\",service=\"user_manager\"} 0"),
            std::string::npos);
}

} // namespace
