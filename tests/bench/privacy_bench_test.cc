#include <catch2/catch.hpp>

#include <sstream>

#include "bench/privacy_bench.h"
#include "codes/factory.h"

namespace codedge::bench {
namespace {

TEST_CASE("edge-bench privacy: raw rows and collusion match what each code sends", "[bench][privacy]") {
  PrivacyOptions o;
  o.rows = 1000;
  o.workers = 10;
  o.strategies = {"uncoded:k=10", "mds:m=15,n=10", "mds:m=15,n=10,generator=systematic", "lt"};
  auto rows = RunPrivacyBench(o);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 4);
  const PrivacyRow& uncoded = (*rows)[0];
  const PrivacyRow& mds = (*rows)[1];
  const PrivacyRow& systematic = (*rows)[2];
  const PrivacyRow& lt = (*rows)[3];
  // Uncoded: every task is a raw block; c workers hold c blocks of 100 rows.
  CHECK(uncoded.tasks_with_raw_rows == 10);
  CHECK(uncoded.raw_rows == 1000);
  for (size_t i = 0; i < uncoded.coalition.size(); ++i) {
    CHECK(uncoded.rows_reconstructed[i] == 100 * uncoded.coalition[i]);
  }
  // Non-systematic MDS: nothing raw, and nothing exact before n tasks are
  // pooled (5 workers hold 10 of the 15 tasks), everything after.
  CHECK(mds.tasks_with_raw_rows == 0);
  CHECK(mds.raw_rows == 0);
  for (size_t i = 0; i < mds.coalition.size(); ++i) {
    const int tasks_held = std::min(15, 2 * std::min(mds.coalition[i], 5) + std::max(0, mds.coalition[i] - 5));
    CHECK(mds.rows_reconstructed[i] == (tasks_held >= 10 ? 1000 : 0));
  }
  // Systematic MDS: the 10 systematic tasks are raw rows of A.
  CHECK(systematic.tasks_with_raw_rows == 10);
  CHECK(systematic.raw_rows == 1000);
  CHECK(systematic.rows_reconstructed[0] >= 100);
  // LT: raw rows are exactly its degree-1 symbols among the tasks dealt.
  auto code = MakeCode(*ParseCodeSpec("lt"), 1000);
  REQUIRE(code.ok());
  int64_t degree_one = 0, with_raw = 0;
  std::vector<bool> seen(1000, false);
  for (int64_t t = 0; t < lt.tasks; ++t) {
    auto task = (*code)->Task(t);
    REQUIRE(task.ok());
    bool any = false;
    for (const auto& s : task->symbols) {
      if (s.sources.size() == 1) {
        any = true;
        if (!seen[s.sources[0]]) degree_one++;
        seen[s.sources[0]] = true;
      }
    }
    with_raw += any;
  }
  CHECK(lt.raw_rows == degree_one);
  CHECK(lt.tasks_with_raw_rows == with_raw);
  CHECK_FALSE(lt.exact);
  CHECK(lt.rows_reconstructed.back() >= lt.rows_reconstructed.front());

  std::ostringstream table;
  PrintPrivacyTable(*rows, o, table);
  CHECK(table.str().find("colluding") != std::string::npos);
  CHECK(PrivacyJson(*rows, o).find("\"rows_reconstructed\"") != std::string::npos);
  o.strategies = {"fountain"};
  CHECK(RunPrivacyBench(o).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge::bench

namespace codedge::bench {
namespace {

TEST_CASE("edge-bench private: the T-private and MDS costs, in the library and end to end", "[bench][private]") {
  PrivateCostOptions o;
  o.rows = 200;
  o.inner = 30;
  o.cols = 3;
  o.k = 4;
  o.t = 2;
  o.n = 7;
  o.repeats = 1;
  auto rows = RunPrivateCostBench(o);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  for (const StageCost& c : *rows) {
    INFO(c.name);
    CHECK(c.rel_error < 1e-3);
    CHECK(c.cluster_rel_error < 1e-3);
    CHECK(c.cluster_s > 0);
  }
  CHECK((*rows)[0].threshold == 6);
  CHECK((*rows)[1].threshold == 4);
}

}  // namespace
}  // namespace codedge::bench
