#include <catch2/catch.hpp>

#include "codes/replication.h"
#include "tests/codes/test_util.h"

namespace codedge {
namespace {
using namespace codedge::testing;

// Float products of exact float copies: the only error is float rounding in
// the worker's product, well below this.
constexpr double kTol = 1e-5;

TEST_CASE("Uncoded and replication decode A·B from any arrival order", "[replication]") {
  Pcg32 rng(2024, 1);
  struct Shape { int64_t rows, t, cols, k, r; };
  const Shape shapes[] = {{1, 1, 1, 1, 1}, {1, 5, 1, 3, 2}, {10, 4, 3, 3, 1}, {37, 8, 5, 6, 3},
                          {100, 16, 1, 10, 2}, {5, 3, 7, 9, 2}, {64, 1, 64, 8, 4}};
  for (const Shape& s : shapes) {
    for (int seed = 0; seed < 20; ++seed) {
      INFO("rows=" << s.rows << " t=" << s.t << " cols=" << s.cols << " k=" << s.k << " r=" << s.r
                   << " seed=" << seed);
      const Matrix a = RandomMatrix(s.rows, s.t, rng), b = RandomMatrix(s.t, s.cols, rng);
      auto code = ReplicationCode::Create(s.rows, s.k, s.r);
      REQUIRE(code.ok());
      auto run = EncodeMultiplyDecode(**code, a, b, Shuffled(*(*code)->num_tasks(), rng));
      REQUIRE(run.ok());
      CHECK(RelError(run->product, ExactProduct(a, b)) < kTol);
      CHECK(run->tasks_used >= s.k);
      // Worst case: every copy of k-1 blocks before one copy of the last,
      // r(k-1)+1. (The paper's "at most rn - n + 1" undercounts for k > r.)
      CHECK(run->tasks_used <= s.r * (s.k - 1) + 1);
    }
  }
}

TEST_CASE("Replication needs one result of every block, from any copy", "[replication]") {
  Pcg32 rng(5, 5);
  const Matrix a = RandomMatrix(9, 4, rng), b = RandomMatrix(4, 2, rng);
  auto code = ReplicationCode::Create(9, 3, 2);
  REQUIRE(code.ok());
  // Copies 1 of block 0 and 2, copy 0 of block 1: tasks 3, 5, 1.
  auto run = EncodeMultiplyDecode(**code, a, b, {3, 5, 0, 1});
  REQUIRE(run.ok());
  CHECK(run->tasks_used == 4);  // task 0 duplicates block 0 and does not help
  CHECK(RelError(run->product, ExactProduct(a, b)) < kTol);
}

}  // namespace
}  // namespace codedge
