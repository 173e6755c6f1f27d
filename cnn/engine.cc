#include "cnn/engine.h"

#include "absl/strings/str_cat.h"

namespace codedge::cnn {

absl::Status CheckIm2colOperands(ConstMatrixRef x, const ConvGeometry& g, ConstMatrixRef w) {
  if (g.n < 1 || x.rows() != g.n * g.h * g.w || x.cols() != g.c || w.rows() != g.patch()) {
    return absl::InvalidArgumentError(absl::StrCat("convolution operands do not fit ", g.n, " images of ", g.h, "x",
                                                   g.w, "x", g.c, " and a ", g.kh, "x", g.kw, " kernel: images ",
                                                   x.rows(), "x", x.cols(), ", filters ", w.rows(), "x", w.cols()));
  }
  return absl::OkStatus();
}

absl::Status CheckCol2imOperands(ConstMatrixRef dz, ConstMatrixRef wt, const ConvGeometry& g) {
  if (g.n < 1 || dz.rows() != g.n * g.out_h() * g.out_w() || dz.cols() != wt.rows() || wt.cols() != g.patch()) {
    return absl::InvalidArgumentError(absl::StrCat("convolution gradient operands do not fit ", g.n, " images of ",
                                                   g.h, "x", g.w, "x", g.c, " and a ", g.kh, "x", g.kw,
                                                   " kernel: dz ", dz.rows(), "x", dz.cols(), ", filters^T ",
                                                   wt.rows(), "x", wt.cols()));
  }
  return absl::OkStatus();
}

absl::Status CheckWeightGradientOperands(ConstMatrixRef x, const ConvGeometry& g, ConstMatrixRef dz) {
  if (g.n < 1 || x.rows() != g.n * g.h * g.w || x.cols() != g.c || dz.rows() != g.n * g.out_h() * g.out_w()) {
    return absl::InvalidArgumentError(absl::StrCat("weight gradient operands do not fit ", g.n, " images of ", g.h,
                                                   "x", g.w, "x", g.c, " and a ", g.kh, "x", g.kw,
                                                   " kernel: images ", x.rows(), "x", x.cols(), ", dz ", dz.rows(),
                                                   "x", dz.cols()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Matrix> MatmulEngine::MultiplyIm2colTransposed(ConstMatrixRef x, const ConvGeometry& g,
                                                              ConstMatrixRef dz) {
  if (absl::Status s = CheckWeightGradientOperands(x, g, dz); !s.ok()) return s;
  return MultiplyTransposedA(Im2Col(x, g), dz, ProductKind::kBackwardWeights);
}

absl::StatusOr<Matrix> MatmulEngine::MultiplyIm2col(ConstMatrixRef x, const ConvGeometry& g, ConstMatrixRef w) {
  if (absl::Status s = CheckIm2colOperands(x, g, w); !s.ok()) return s;
  return Multiply(Im2Col(x, g), w, ProductKind::kForward);
}

absl::StatusOr<Matrix> MatmulEngine::MultiplyCol2im(ConstMatrixRef dz, ConstMatrixRef wt, const ConvGeometry& g) {
  if (absl::Status s = CheckCol2imOperands(dz, wt, g); !s.ok()) return s;
  absl::StatusOr<Matrix> dcols = Multiply(dz, wt, ProductKind::kBackwardData);
  if (!dcols.ok()) return dcols.status();
  return Col2Im(*dcols, g);
}

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
