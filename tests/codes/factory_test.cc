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
