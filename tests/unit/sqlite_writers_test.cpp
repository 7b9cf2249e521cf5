// SQLite connections of one process writing to one file: they take turns through the
// write gate without errors, a failed or abandoned write lets the next writer in at
// once, and the background checkpointer keeps the WAL from growing without bound.

#include "persistence/sqlite/sqlite_db.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

namespace fw::sqlite {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view insert_sql = "INSERT INTO t (id, v) VALUES (?1, randomblob(?2))";

class SqliteWritersTest : public ::testing::Test {
protected:
  void SetUp() override {
    database db{file()};
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
  }

  std::string file() const {
    return (dir_.path() / "writers.db").string();
  }

  static std::int64_t rows(database& db) {
    statement count{db, "SELECT count(*) FROM t"};
    auto q = count.use();
    q->step();
    return q->column_int64(0);
  }

  fw::test::temp_dir dir_{"fw-sqlite-writers-"};
};

TEST_F(SqliteWritersTest, ConnectionsOfOneProcessWriteSideBySideWithoutErrors) {
  constexpr int threads = 4, rounds = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t)
    writers.emplace_back([&, t] {
      try {
        database db{file()};
        statement insert{db, insert_sql};
        for (int i = 0; i < rounds; ++i) {
          const std::int64_t id = (t * rounds + i) * 2;
          { // a write on its own
            auto q = insert.use();
            q->bind(1, id).bind(2, std::int64_t{100});
            q->run();
          }
          transaction tx{db}; // and one in a transaction
          auto q = insert.use();
          q->bind(1, id + 1).bind(2, std::int64_t{100});
          q->run();
          tx.commit();
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  for (auto& w : writers)
    w.join();
  ASSERT_EQ(failures, 0);
  database db{file()};
  EXPECT_EQ(rows(db), threads * rounds * 2);
}

TEST_F(SqliteWritersTest, AFailedOrAbandonedWriteLetsTheNextWriterInAtOnce) {
  database first{file()}, second{file()};
  statement insert_first{first, insert_sql}, insert_second{second, insert_sql};
  {
    auto q = insert_first.use();
    q->bind(1, std::int64_t{1}).bind(2, std::int64_t{10});
    q->run();
  }
  auto write_second = [&](std::int64_t id) {
    const auto started = std::chrono::steady_clock::now();
    auto q = insert_second.use();
    q->bind(1, id).bind(2, std::int64_t{10});
    q->run();
    return std::chrono::steady_clock::now() - started;
  };

  { // a constraint violation outside a transaction
    auto q = insert_first.use();
    q->bind(1, std::int64_t{1}).bind(2, std::int64_t{10});
    EXPECT_THROW(q->run(), constraint_violation);
  }
  EXPECT_LT(write_second(2), 1s) << "the failed statement still held the write gate";

  { // a transaction left without commit
    transaction tx{first};
    auto q = insert_first.use();
    q->bind(1, std::int64_t{3}).bind(2, std::int64_t{10});
    q->run();
  }
  EXPECT_LT(write_second(4), 1s) << "the abandoned transaction still held the write gate";

  { // a transaction rolled back explicitly, with a savepoint inside
    transaction tx{first};
    transaction inner{first};
    inner.commit();
    tx.rollback();
  }
  EXPECT_LT(write_second(5), 1s) << "the rolled-back transaction still held the write gate";
  EXPECT_EQ(rows(first), 4) << "ids 1, 2, 4 and 5; 3 was never committed";
}

TEST_F(SqliteWritersTest, TheWalIsCheckpointedAsItGrows) {
  // 20000 pages of 4 KiB in 2000 transactions, back to back. Without checkpoints the WAL
  // would hold all of them (over 80 MB); with them it is reused from its start soon after
  // it passes 4000 pages (16 MB): once the pages written meanwhile are copied too.
  database db{file()};
  statement insert{db, insert_sql};
  for (std::int64_t i = 0; i < 2000; ++i) {
    transaction tx{db};
    for (std::int64_t j = 0; j < 10; ++j) {
      auto q = insert.use();
      q->bind(1, i * 10 + j).bind(2, std::int64_t{3500});
      q->run();
    }
    tx.commit();
  }
  const auto wal = std::filesystem::file_size(file() + "-wal");
  EXPECT_LT(wal, 40u << 20) << "WAL of " << wal << " bytes: not checkpointed";
  EXPECT_EQ(rows(db), 20000);
}

} // namespace
} // namespace fw::sqlite
