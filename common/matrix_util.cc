#include "common/matrix_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace codedge {

namespace {

// The first non-finite of n contiguous floats, or -1. An exponent of all
// ones is NaN or infinity; blocks of 256 keep the loop vectorisable and let
// a bad block stop the scan early.
int64_t FirstNonFiniteIn(const float* v, int64_t n) {
  constexpr int64_t kBlock = 256;
  auto first_in = [&](int64_t j, int64_t end) -> int64_t {
    for (int64_t i = j; i < end; ++i)
      if (!std::isfinite(v[i])) return i;
    return -1;
  };
  int64_t j = 0;
  for (; j + kBlock <= n; j += kBlock) {
    uint32_t bad = 0;
    for (int64_t i = 0; i < kBlock; ++i) {  // a constant trip count: vectorised at -O2
      uint32_t bits;
      std::memcpy(&bits, v + j + i, 4);
      bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (bad) return first_in(j, j + kBlock);
  }
  return first_in(j, n);
}

}  // namespace

int64_t FirstNonFinite(ConstMatrixRef m) {
  const int64_t n = m.cols();
  // Contiguous rows are scanned as one array: row by row, a narrow matrix
  // (a training product's 16 columns) never filled a vector block.
  if (m.outerStride() == n || m.rows() <= 1) return FirstNonFiniteIn(m.data(), m.rows() * n);
  for (int64_t r = 0; r < m.rows(); ++r) {
    if (const int64_t i = FirstNonFiniteIn(m.row(r).data(), n); i >= 0) return r * n + i;
  }
  return -1;
}

Matrix RandomUniformMatrix(int64_t rows, int64_t cols, Pcg32& rng, double lo, double hi) {
  Matrix m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.Uniform(lo, hi));
  return m;
}

double RelativeError(const Matrix& got, const MatrixD& want) {
  const double num = (got.cast<double>() - want).norm();
  const double den = want.norm();
  return den > 0 ? num / den : num;
}

}  // namespace codedge
