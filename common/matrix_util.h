// Small matrix helpers shared by tests, benchmarks and (later) model code.
#ifndef CODEDGE_COMMON_MATRIX_UTIL_H_
#define CODEDGE_COMMON_MATRIX_UTIL_H_

#include <cstdint>

#include "common/matrix.h"
#include "common/random.h"

namespace codedge {

// rows x cols, entries uniform in [lo, hi) from `rng` (row-major order, so
// the same seed gives the same matrix everywhere).
Matrix RandomUniformMatrix(int64_t rows, int64_t cols, Pcg32& rng, double lo = -1.0, double hi = 1.0);

// Index (row-major) of the first NaN or infinity in `m`, or -1 if every
// entry is finite. A branch-free scan of the exponent bits (Eigen's
// allFinite computes x - x == x - x: 32 % of the cycles of a 24 MB request
// in a profile).
int64_t FirstNonFinite(ConstMatrixRef m);

// ||got - want||_F / ||want||_F in double (the absolute error if want == 0).
double RelativeError(const Matrix& got, const MatrixD& want);

}  // namespace codedge

#endif  // CODEDGE_COMMON_MATRIX_UTIL_H_
