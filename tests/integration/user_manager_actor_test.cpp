// The user-manager's actor protocol, for the roles that call it without HTTP: the seed's
// CheckUserExists, and the request to drop a deleted user's interests, which reaches the
// data-collector (here a stand-in that records it). Real storage service on SQLite.

#include "actors/user_manager/user_manager.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "tests/support/actor_test.hpp"
#include "tests/support/net.hpp"
#include "tests/support/temp_dir.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <gtest/gtest.h>

#include <mutex>

namespace {

using namespace std::chrono_literals;

struct user_manager_actor_test : ::testing::Test, fw::test::sqlite_actor_env {
  user_manager_actor_test() : sqlite_actor_env{"fw-um-actor"} {
    manager = caf::actor_cast<fw::user_manager_actor>(fw::spawn_user_manager(sys, context));
  }

  ~user_manager_actor_test() override {
    caf::anon_send_exit(manager, caf::exit_reason::user_shutdown);
  }

  /// Sends `xs...` to the user-manager and waits for the typed answer.
  template <class Reply, class... Ts>
  caf::expected<Reply> ask(Ts... xs) {
    caf::expected<Reply> out{caf::make_error(caf::sec::request_timeout)};
    self->request(manager, 5s, std::move(xs)...)
      .receive([&](Reply& r) { out = std::move(r); }, [&](caf::error& e) { out = e; });
    return out;
  }

  /// Storage migrates asynchronously after spawn: retries until it answers.
  caf::expected<fw::command_reply> create(const std::string& email, const std::string& key) {
    caf::expected<fw::command_reply> r{caf::make_error(caf::sec::request_timeout)};
    fw::test::wait_until(
      [&] {
        r = ask<fw::command_reply>(fw::create_user_atom::value, key,
                                   fw::user{email, "A", "B", "", "", caf::none});
        return static_cast<bool>(r);
      },
      5s);
    return r;
  }

  fw::user_manager_actor manager;
};

TEST_F(user_manager_actor_test, answers_whether_a_user_exists) {
  auto created = create("anna@x.org", "k1");
  ASSERT_TRUE(created) << caf::to_string(created.error());
  EXPECT_EQ(created->status, 201);
  EXPECT_EQ(ask<bool>(fw::user_exists_atom::value, std::string{"anna@x.org"}), true);
  EXPECT_EQ(ask<bool>(fw::user_exists_atom::value, std::string{" Anna@X.org"}), true);
  EXPECT_EQ(ask<bool>(fw::user_exists_atom::value, std::string{"bob@x.org"}), false);
}

TEST_F(user_manager_actor_test, get_user_of_an_unknown_email_is_not_found) {
  ASSERT_TRUE(create("anna@x.org", "k1"));
  auto found = ask<fw::user>(fw::get_user_atom::value, std::string{"anna@x.org"});
  ASSERT_TRUE(found);
  EXPECT_EQ(found->first_name, "A");
  auto missing = ask<fw::user>(fw::get_user_atom::value, std::string{"bob@x.org"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(fw::code_of(missing.error()), fw::ec::not_found);
}

TEST_F(user_manager_actor_test, deleting_a_user_asks_the_data_collector_to_drop_interests) {
  struct journal {
    std::mutex mtx;
    std::vector<std::string> emails;
  };
  auto seen = std::make_shared<journal>();
  auto collector = sys.spawn([seen](caf::event_based_actor*) -> caf::behavior {
    return {[seen](fw::delete_interests_atom, const std::string& email) {
      std::lock_guard guard{seen->mtx};
      seen->emails.push_back(email);
      return std::uint64_t{2};
    }};
  });
  context->directory->put("data-collector", collector);
  ASSERT_TRUE(create("anna@x.org", "k1"));
  auto deleted = ask<fw::command_reply>(fw::delete_user_atom::value, std::string{"d1"},
                                        std::string{"Anna@x.org"});
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 200);
  std::lock_guard guard{seen->mtx};
  EXPECT_EQ(seen->emails, std::vector<std::string>{"anna@x.org"});
}

TEST_F(user_manager_actor_test, a_failing_data_collector_does_not_fail_the_delete) {
  auto collector = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](fw::delete_interests_atom, const std::string&) -> caf::result<std::uint64_t> {
      return fw::make_error(fw::ec::unavailable, "interests store down");
    }};
  });
  context->directory->put("data-collector", collector);
  ASSERT_TRUE(create("anna@x.org", "k1"));
  auto deleted = ask<fw::command_reply>(fw::delete_user_atom::value, std::string{"d1"},
                                        std::string{"anna@x.org"});
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 200);
  EXPECT_EQ(ask<bool>(fw::user_exists_atom::value, std::string{"anna@x.org"}), false);
}

} // namespace
