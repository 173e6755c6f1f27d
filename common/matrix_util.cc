#include "common/matrix_util.h"

namespace codedge {

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
