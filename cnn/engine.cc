#include "cnn/engine.h"

#include "absl/strings/str_cat.h"

namespace codedge::cnn {

absl::StatusOr<Matrix> LocalEngine::Multiply(ConstMatrixRef a, ConstMatrixRef b, ProductKind) {
  if (a.cols() != b.rows()) {
    return absl::InvalidArgumentError(
        absl::StrCat("product shapes do not chain: ", a.rows(), "x", a.cols(), " . ", b.rows(), "x", b.cols()));
  }
  Matrix c(a.rows(), b.cols());
  c.noalias() = a * b;
  return c;
}

absl::StatusOr<Matrix> LocalEngine::MultiplyTransposedA(ConstMatrixRef a, ConstMatrixRef b, ProductKind) {
  if (a.rows() != b.rows()) {
    return absl::InvalidArgumentError(
        absl::StrCat("product shapes do not chain: (", a.rows(), "x", a.cols(), ")^T . ", b.rows(), "x", b.cols()));
  }
  Matrix c(a.cols(), b.cols());
  c.noalias() = a.transpose() * b;  // one GEMM with a transposed operand, no copy
  return c;
}

}  // namespace codedge::cnn
