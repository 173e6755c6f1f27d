#include "codes/verify.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace codedge {

absl::Status FreivaldsCheck(ConstMatrixRef rows, ConstMatrixRef b, ConstMatrixRef result, Pcg32& rng,
                            double tolerance) {
  if (rows.cols() != b.rows() || result.rows() != rows.rows() || result.cols() != b.cols()) {
    return absl::InvalidArgumentError(absl::StrCat("Freivalds check: ", rows.rows(), "x", rows.cols(), " . ",
                                                   b.rows(), "x", b.cols(), " cannot give ", result.rows(), "x",
                                                   result.cols()));
  }
  Eigen::VectorXf v(b.cols());
  for (int64_t j = 0; j < v.size(); ++j) {
    const float mag = static_cast<float>(rng.Uniform(0.5, 1.5));
    v(j) = rng.UniformInt(2) == 0 ? mag : -mag;
  }
  // Two passes over the block, both matrix-vector products in float (the
  // block is as large as the task; B and the result are small).
  const Eigen::VectorXf bv = b * v;
  const Eigen::VectorXf scale_b = b.cwiseAbs() * v.cwiseAbs();
  const Eigen::VectorXf expect = rows * bv;
  const Eigen::VectorXf scale = rows.cwiseAbs() * scale_b;
  const Eigen::VectorXf got = result * v;
  for (int64_t i = 0; i < rows.rows(); ++i) {
    const double err = std::abs(static_cast<double>(got(i)) - static_cast<double>(expect(i)));
    if (!(err <= tolerance * static_cast<double>(scale(i)) + 1e-30)) {
      return absl::DataLossError(absl::StrCat("row ", i, " of the result fails Freivalds' check (", got(i),
                                              " against ", expect(i), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace codedge
