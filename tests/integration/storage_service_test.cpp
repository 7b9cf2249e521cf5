// The storage service's deadline: a task that takes longer than storage.timeout is
// answered ec::unavailable at that time (the role answers 503 instead of hanging), and
// the other workers keep serving; short tasks do not queue behind bulk ones. Real SQLite
// storage.

#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "tests/support/actor_test.hpp"
#include "tests/support/net.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace {

using namespace std::chrono_literals;

struct storage_service_test : ::testing::Test {
  storage_service_test() {
    context = fw::test::sqlite_test_context(sys, dir.path() / "fw.db", [](fw::settings& s) {
      s.storage.timeout = 300ms;
    });
    storage = caf::actor_cast<fw::storage_actor>(context->directory->get("storage"));
  }
  ~storage_service_test() override {
    fw::test::stop_directory(context);
  }

  /// Runs `work` as a db_task; the error it got, or none.
  caf::error run(std::function<void(fw::store_session&)> work) {
    caf::error out = caf::make_error(caf::sec::request_timeout);
    self->request(storage, 10s, fw::db_task{"test", std::move(work), false})
      .receive([&] { out = caf::error{}; }, [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  fw::test::temp_dir dir{"fw-storage-service"};
  fw::test::actor_test_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  fw::node_context_ptr context;
  fw::storage_actor storage;
};

TEST_F(storage_service_test, a_task_over_the_timeout_is_answered_unavailable_in_time) {
  ASSERT_TRUE(fw::test::wait_until([&] { return !run([](fw::store_session&) {}); }, 10s))
    << "storage never became ready";
  auto finished = std::make_shared<std::atomic<bool>>(false);
  const auto start = std::chrono::steady_clock::now();
  auto err = run([finished](fw::store_session&) {
    std::this_thread::sleep_for(1200ms);
    finished->store(true);
  });
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(err);
  EXPECT_EQ(fw::code_of(err), fw::ec::unavailable);
  EXPECT_EQ(fw::message_of(err), "storage did not answer within 300 ms");
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 1000ms) << "the caller waited for the slow task";
  EXPECT_FALSE(finished->load());

  // Meanwhile the other workers serve; after its late end the slow worker does too.
  EXPECT_FALSE(run([](fw::store_session&) {}));
  ASSERT_TRUE(fw::test::wait_until([&] { return finished->load(); }, 5s));
  for (int i = 0; i < 8; ++i)
    EXPECT_FALSE(run([](fw::store_session&) {}));
}

// A collection starts thousands of evaluations and notifications (bulk tasks); a request's
// lookup given meanwhile runs on a worker of its own instead of queueing behind them.
TEST_F(storage_service_test, a_burst_of_bulk_tasks_does_not_delay_a_short_one) {
  ASSERT_TRUE(fw::test::wait_until([&] { return !run([](fw::store_session&) {}); }, 10s))
    << "storage never became ready";
  auto bulk_done = std::make_shared<std::atomic<int>>(0);
  constexpr int bulk_tasks = 40; // 20 ms each: 400 ms per bulk lane (pool 4: two of them)
  for (int i = 0; i < bulk_tasks; ++i)
    caf::anon_send(storage, fw::db_task{"bulk",
                                        [bulk_done](fw::store_session&) {
                                          std::this_thread::sleep_for(20ms);
                                          ++*bulk_done;
                                        },
                                        true});
  std::this_thread::sleep_for(30ms); // the burst has reached the workers
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(run([](fw::store_session&) {}));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms)
      << "a short task queued behind the bulk ones";
  }
  EXPECT_LT(bulk_done->load(), bulk_tasks) << "the burst ended before the short tasks ran";
}

TEST_F(storage_service_test, callers_waiting_when_the_service_stops_are_answered_at_once) {
  ASSERT_TRUE(fw::test::wait_until([&] { return !run([](fw::store_session&) {}); }, 10s))
    << "storage never became ready";
  caf::error err;
  auto waited = std::chrono::steady_clock::duration::zero();
  std::thread caller{[&] {
    const auto start = std::chrono::steady_clock::now();
    err = run([](fw::store_session&) { std::this_thread::sleep_for(200ms); });
    waited = std::chrono::steady_clock::now() - start;
  }};
  std::this_thread::sleep_for(50ms);
  caf::anon_send_exit(storage, caf::exit_reason::kill);
  caller.join();
  ASSERT_TRUE(err);
  EXPECT_EQ(fw::code_of(err), fw::ec::unavailable);
  EXPECT_EQ(fw::message_of(err), "storage stopped before answering");
  EXPECT_LT(waited, 290ms) << "the caller waited for the task or the deadline";
}

} // namespace
