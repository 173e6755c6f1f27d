#include <catch2/catch.hpp>

#include "codes/factory.h"
#include "tests/codes/test_util.h"

namespace codedge {
namespace {
using namespace codedge::testing;

TEST_CASE("ParseCodeSpec reads every strategy and its parameters", "[factory]") {
  auto mds = ParseCodeSpec("mds:m=12,n=8,generator=gaussian,seed=9");
  REQUIRE(mds.ok());
  CHECK(mds->strategy == Strategy::kMds);
  CHECK(mds->m == 12);
  CHECK(mds->n == 8);
  CHECK(mds->generator == MdsGenerator::kGaussian);
  CHECK(mds->seed == 9);
  auto lt = ParseCodeSpec("lt:c=0.05,delta=0.1,symbol_rows=4,symbols_per_task=7,elimination=false,max_amplification=0");
  REQUIRE(lt.ok());
  CHECK(lt->lt.c == 0.05);
  CHECK(lt->lt.delta == 0.1);
  CHECK(lt->lt.symbol_rows == 4);
  CHECK(lt->lt.symbols_per_task == 7);
  CHECK_FALSE(lt->lt.elimination);
  CHECK(lt->lt.max_error_amplification == 0);
  auto rep = ParseCodeSpec("replication:k=6,copies=3");
  REQUIRE(rep.ok());
  CHECK(rep->k == 6);
  CHECK(rep->copies == 3);
  CHECK(ParseCodeSpec("uncoded")->strategy == Strategy::kUncoded);
  CHECK(ParseCodeSpec("speculative:k=3")->strategy == Strategy::kSpeculative);
  // The printed form parses back to the same spec.
  for (const CodeSpec& s : {*mds, *lt, *rep}) {
    auto again = ParseCodeSpec(CodeSpecString(s));
    REQUIRE(again.ok());
    CHECK(CodeSpecString(*again) == CodeSpecString(s));
  }
}

TEST_CASE("ParseCodeSpec with defaults: named parameters win, the rest come from the defaults", "[factory]") {
  CodeSpec d;
  d.lt.symbol_rows = 64;
  d.lt.c = 0.2;
  d.m = 20;
  auto lt = ParseCodeSpec("lt:c=0.05", d);
  REQUIRE(lt.ok());
  CHECK(lt->strategy == Strategy::kLt);
  CHECK(lt->lt.c == 0.05);
  CHECK(lt->lt.symbol_rows == 64);
  auto rows1 = ParseCodeSpec("lt:symbol_rows=1", d);
  REQUIRE(rows1.ok());
  CHECK(rows1->lt.symbol_rows == 1);
  auto mds = ParseCodeSpec("mds:n=8", d);
  REQUIRE(mds.ok());
  CHECK(mds->strategy == Strategy::kMds);
  CHECK(mds->m == 20);
  CHECK(mds->n == 8);
  CHECK(ParseCodeSpec("lt:symbol_rows=0x", d).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseCodeSpec("lt", CodeSpec{})->lt.symbol_rows == LtParams{}.symbol_rows);
}

TEST_CASE("ParseCodeSpec rejects unknown strategies, keys and bad values", "[factory][bad-input]") {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  CHECK(ParseCodeSpec("raptor").status().code() == kInvalid);
  CHECK(ParseCodeSpec("").status().code() == kInvalid);
  CHECK(ParseCodeSpec("mds:m=x").status().code() == kInvalid);
  CHECK(ParseCodeSpec("mds:copies=2").status().code() == kInvalid);  // not an mds parameter
  CHECK(ParseCodeSpec("lt:c").status().code() == kInvalid);
  CHECK(ParseCodeSpec("lt:elimination=yes").status().code() == kInvalid);
  CHECK(ParseCodeSpec("mds:generator=cauchy").status().code() == kInvalid);
  CHECK(ParseCodeSpec("uncoded:seed=-1").status().code() == kInvalid);
  // Parameters are range-checked when the code is made.
  CHECK(MakeCode(*ParseCodeSpec("mds:m=5,n=6"), 10).status().code() == kInvalid);
  CHECK(MakeCode(*ParseCodeSpec("uncoded:k=0"), 10).status().code() == kInvalid);
}

TEST_CASE("MakeCode builds codes that decode A·B", "[factory]") {
  Pcg32 rng(6, 6);
  const Matrix a = RandomMatrix(40, 5, rng), b = RandomMatrix(5, 3, rng);
  for (const char* text : {"uncoded:k=4", "replication:k=4,copies=2", "mds:m=7,n=4", "mds:m=7,n=4,generator=systematic",
                           "lt:symbols_per_task=4"}) {
    INFO(text);
    auto code = MakeCode(*ParseCodeSpec(text), a.rows());
    REQUIRE(code.ok());
    std::vector<int64_t> ids = Range(0, (*code)->num_tasks().value_or(200));
    auto run = EncodeMultiplyDecode(**code, a, b, ids);
    REQUIRE(run.ok());
    CHECK(RelError(run->product, ExactProduct(a, b)) < 1e-4);
  }
}

}  // namespace
}  // namespace codedge

namespace codedge {
namespace {

// Oracle: whenever a code says a task is a plain block of A, Encode gives
// exactly those rows; and the strategies built on plain blocks do say so.
TEST_CASE("PlainBlock names exactly the rows Encode would copy", "[factory]") {
  Pcg32 rng(11, 12);
  for (int64_t rows : {int64_t{1}, int64_t{7}, int64_t{60}, int64_t{61}}) {
    const Matrix a = RandomUniformMatrix(rows, 5, rng);
    for (const char* text : {"uncoded:k=6", "replication:k=4,copies=2", "speculative:k=5", "mds:m=7,n=4,generator=systematic",
                             "mds:m=7,n=4", "lt:symbols_per_task=1", "lt:symbols_per_task=3,symbol_rows=2"}) {
      auto spec = ParseCodeSpec(text);
      REQUIRE(spec.ok());
      auto code = MakeCode(*spec, rows);
      REQUIRE(code.ok());
      int64_t plain = 0, tasks = 0;
      for (int64_t id = 0; id < ((*code)->num_tasks() ? *(*code)->num_tasks() : 40); ++id, ++tasks) {
        auto task = (*code)->Task(id);
        REQUIRE(task.ok());
        auto coded = (*code)->Encode(*task, a);
        REQUIRE(coded.ok());
        if (auto block = (*code)->PlainBlock(*task)) {
          ++plain;
          INFO(text << " rows " << rows << " task " << id);
          REQUIRE(block->second - block->first == coded->rows());
          CHECK(*coded == a.middleRows(block->first, block->second - block->first));
        }
      }
      const std::string name(text);
      // Uncoded-style tasks over rows that split evenly are all plain blocks.
      if ((name.starts_with("uncoded") && rows % 6 == 0) || (name.starts_with("speculative") && rows % 5 == 0)) {
        CHECK(plain == tasks);
      }
      if (name == "mds:m=7,n=4") CHECK(plain == 0);  // rotation: every task is coded
    }
  }
}

}  // namespace
}  // namespace codedge
