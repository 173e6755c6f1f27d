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

absl::Status FreivaldsCheck(ConstMatrixRef rows, ConstMatrixRef b, ConstMatrixRef result, Pcg32& rng,
                            double tolerance, const RowOp& op) {
  if (op.plain()) return FreivaldsCheck(rows, b, result, rng, tolerance);
  if (absl::Status s = CheckRowOp(op, rows.cols(), b.rows(), b.cols()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("Freivalds check: ", s.message()));
  }
  if (result.rows() != rows.rows() || result.cols() != op.OutCols(b.cols())) {
    return absl::InvalidArgumentError(absl::StrCat("Freivalds check: ", rows.rows(), " rows under ", op.ToString(),
                                                   " cannot give ", result.rows(), "x", result.cols()));
  }
  // v runs over B's columns, except for col2im, whose result's channels are
  // the image's.
  const bool forward = op.kind != RowOp::Kind::kProductCol2im;
  const ConvGeometry& g = op.conv;
  Eigen::VectorXf v(forward ? b.cols() : g.c);
  for (int64_t j = 0; j < v.size(); ++j) {
    const float mag = static_cast<float>(rng.Uniform(0.5, 1.5));
    v(j) = rng.UniformInt(2) == 0 ? mag : -mag;
  }
  // B folded with v: B . v (one column); col2im, per kernel offset i,
  // B'(f, i) = sum_c B(f, i*C + c) v_c (F x KH*KW). And the same in |.|.
  Matrix bv, scale_b;
  RowOp reduced = op;
  if (forward) {
    bv = b * v;
    scale_b = b.cwiseAbs() * v.cwiseAbs();
  } else {
    const int64_t offsets = g.kh * g.kw;
    bv.resize(b.rows(), offsets);
    scale_b.resize(b.rows(), offsets);
    for (int64_t i = 0; i < offsets; ++i) {
      bv.col(i) = b.middleCols(i * g.c, g.c) * v;
      scale_b.col(i) = b.middleCols(i * g.c, g.c).cwiseAbs() * v.cwiseAbs();
    }
    reduced.conv.c = 1;
  }
  // Entries of a result row per channel of v: output pixels (forward),
  // kernel offsets (weight gradient), input pixels (col2im).
  const int64_t pixels = reduced.OutCols(1);
  Matrix expect(rows.rows(), pixels), scale(rows.rows(), pixels), scratch;
  ApplyRowOp(reduced, rows, bv, Eigen::Map<Matrix>(expect.data(), expect.rows(), expect.cols()), scratch);
  const Matrix abs_rows = rows.cwiseAbs();
  ApplyRowOp(reduced, abs_rows, scale_b, Eigen::Map<Matrix>(scale.data(), scale.rows(), scale.cols()), scratch);
  const int64_t channels = v.size();
  for (int64_t i = 0; i < rows.rows(); ++i) {
    const Eigen::Map<const Matrix> got_pixels(result.row(i).data(), pixels, channels);
    const Eigen::VectorXf got = got_pixels * v;
    for (int64_t p = 0; p < pixels; ++p) {
      const double err = std::abs(static_cast<double>(got(p)) - static_cast<double>(expect(i, p)));
      if (!(err <= tolerance * static_cast<double>(scale(i, p)) + 1e-30)) {
        return absl::DataLossError(absl::StrCat("row ", i, " (pixel ", p, ") of the result fails Freivalds' check (",
                                                got(p), " against ", expect(i, p), ")"));
      }
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
