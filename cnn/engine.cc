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

}  // namespace codedge::cnn
