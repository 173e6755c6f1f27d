#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "common/linalg.h"
#include "common/matrix_util.h"

namespace codedge {
namespace {

// Oracle: the first entry (row-major) for which std::isfinite is false.
int64_t NaiveFirstNonFinite(const Matrix& m) {
  for (int64_t i = 0; i < m.size(); ++i)
    if (!std::isfinite(m.data()[i])) return i;
  return -1;
}

TEST_CASE("FirstNonFinite agrees with std::isfinite at every position", "[matrix_util]") {
  Pcg32 rng(7, 8);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::signaling_NaN()};
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {3, 255}, {2, 257}, {5, 600}}) {
    Matrix m = RandomUniformMatrix(rows, cols, rng, -1e30, 1e30);
    m(0, 0) = std::numeric_limits<float>::max();  // finite extremes stay finite
    m(rows - 1, cols - 1) = std::numeric_limits<float>::denorm_min();
    CHECK(FirstNonFinite(m) == -1);
    for (int64_t at : {int64_t{0}, m.size() / 2, m.size() - 1}) {
      for (float x : specials) {
        Matrix bad = m;
        bad.data()[at] = x;
        bad.data()[m.size() - 1] = x;  // a later one must not win
        CHECK(FirstNonFinite(bad) == NaiveFirstNonFinite(bad));
      }
    }
  }
  // Strided views are scanned row by row, ignoring what lies between.
  Matrix wide = Matrix::Zero(4, 10);
  wide(2, 8) = std::numeric_limits<float>::infinity();
  CHECK(FirstNonFinite(wide.leftCols(5)) == -1);
  wide(3, 1) = std::numeric_limits<float>::quiet_NaN();
  CHECK(FirstNonFinite(wide.leftCols(5)) == 3 * 5 + 1);
}

}  // namespace
}  // namespace codedge

namespace codedge {
namespace {

TEST_CASE("OpenBLAS's kernel choice is overridden only when it fell back on a CPU with better kernels",
          "[linalg]") {
  // OpenBLAS's own choice stands for a CPU it knows.
  CHECK(BlasCoreFor("Haswell").empty());
  CHECK(BlasCoreFor("SkylakeX").empty());
  CHECK(BlasCoreFor("Zen").empty());
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512cd");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const std::string expected = avx512 ? "SkylakeX" : avx2 ? "Haswell" : "";
  CHECK(BlasCoreFor("Prescott") == expected);  // the SSE3 fallback
  CHECK(BlasCoreFor("PRESCOTT") == expected);
  CHECK(BlasCoreFor("Nehalem") == expected);
#else
  CHECK(BlasCoreFor("Prescott").empty());
#endif
}

}  // namespace
}  // namespace codedge
