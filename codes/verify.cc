#include "codes/verify.h"

#include <cmath>
#include <vector>

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

absl::Status FieldFreivaldsCheck(ConstFieldMatrixRef rows, const QuantMatrix& b, ConstFieldMatrixRef result,
                                 Pcg32& rng) {
  if (rows.cols() != b.rows() || result.rows() != rows.rows() || result.cols() != b.cols()) {
    return absl::InvalidArgumentError(absl::StrCat("Freivalds check: ", rows.rows(), "x", rows.cols(), " . ",
                                                   b.rows(), "x", b.cols(), " cannot give ", result.rows(), "x",
                                                   result.cols()));
  }
  std::vector<uint64_t> v(static_cast<size_t>(b.cols()));
  for (uint64_t& x : v) {
    do {
      x = rng.NextU64() & kFieldPrime;
    } while (x == kFieldPrime);
  }
  // bv = b . v (inner), then rows . bv and result . v, all mod p.
  std::vector<uint64_t> bv(static_cast<size_t>(b.rows()), 0);
  for (int64_t l = 0; l < b.rows(); ++l) {
    uint64_t acc = 0;
    for (int64_t j = 0; j < b.cols(); ++j) acc = FieldAdd(acc, FieldMul(FieldFromSigned(b(l, j)), v[j]));
    bv[l] = acc;
  }
  for (int64_t i = 0; i < rows.rows(); ++i) {
    uint64_t expect = 0, got = 0;
    for (int64_t l = 0; l < rows.cols(); ++l) expect = FieldAdd(expect, FieldMul(rows(i, l) % kFieldPrime, bv[l]));
    for (int64_t j = 0; j < result.cols(); ++j) got = FieldAdd(got, FieldMul(result(i, j) % kFieldPrime, v[j]));
    if (got != expect) {
      return absl::DataLossError(absl::StrCat("row ", i, " of the field result fails Freivalds' check"));
    }
  }
  return absl::OkStatus();
}

}  // namespace codedge
