#include <catch2/catch.hpp>

#include "codes/verify.h"
#include "common/matrix_util.h"
#include "tests/conv_case.h"

namespace codedge {
namespace {

TEST_CASE("Freivalds' check passes float products and catches every changed entry", "[verify]") {
  Pcg32 rng(31, 1);
  // Right products pass, deep ones (k = 4000: float rounding adds up) included.
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {50, 30, 7}, {200, 4000, 10}, {3, 5, 1}}) {
    const Matrix rows = RandomUniformMatrix(m, k, rng), b = RandomUniformMatrix(k, n, rng);
    const Matrix good = rows * b;
    CHECK(FreivaldsCheck(rows, b, good, rng).ok());
  }
  // Oracle: every single entry changed by 1 % of its row's scale is caught,
  // whatever the position, the sign, or the random vector.
  const Matrix rows = RandomUniformMatrix(12, 40, rng), b = RandomUniformMatrix(40, 6, rng);
  const Matrix good = rows * b;
  int64_t caught = 0, tried = 0;
  for (int64_t i = 0; i < good.rows(); ++i) {
    const double row_scale = (rows.row(i).cwiseAbs() * b.cwiseAbs()).maxCoeff();
    for (int64_t j = 0; j < good.cols(); ++j) {
      for (float sign : {-1.0f, 1.0f}) {
        Matrix bad = good;
        bad(i, j) += sign * static_cast<float>(0.01 * row_scale * 1.5);
        absl::Status s = FreivaldsCheck(rows, b, bad, rng);
        ++tried;
        if (s.code() == absl::StatusCode::kDataLoss) ++caught;
      }
    }
  }
  CHECK(caught == tried);
  // Shapes that do not chain are a different error.
  CHECK(FreivaldsCheck(rows, b, Matrix::Zero(12, 5), rng).code() == absl::StatusCode::kInvalidArgument);
  CHECK(FreivaldsCheck(rows, Matrix::Zero(39, 6), good, rng).code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge

namespace codedge {
namespace {

TEST_CASE("The field Freivalds check passes exact products and catches every changed element", "[verify][private]") {
  Pcg32 rng(31, 1);
  FieldMatrix rows(40, 12);
  for (int64_t i = 0; i < rows.size(); ++i) rows.data()[i] = rng.NextU64() % kFieldPrime;
  QuantMatrix b(12, 3);
  for (int64_t i = 0; i < b.size(); ++i) b.data()[i] = static_cast<int32_t>(rng.UniformInt(65535)) - 32767;
  const FieldMatrix good = FieldProductNaive(rows, b);
  Pcg32 vrng(5, 5);
  CHECK(FieldFreivaldsCheck(rows, b, good, vrng).ok());
  // Every single-element change, by +1 or to a random element, is caught.
  int64_t missed = 0;
  for (int64_t e = 0; e < good.size(); ++e) {
    FieldMatrix bad = good;
    bad.data()[e] = e % 2 ? (bad.data()[e] + 1) % kFieldPrime : rng.NextU64() % kFieldPrime;
    if (bad.data()[e] == good.data()[e]) continue;
    absl::Status s = FieldFreivaldsCheck(rows, b, bad, vrng);
    if (s.ok()) missed++;
    if (!s.ok()) CHECK(s.code() == absl::StatusCode::kDataLoss);
  }
  CHECK(missed == 0);
  CHECK(FieldFreivaldsCheck(rows, b, FieldMatrix::Zero(39, 3), vrng).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Freivalds' check of convolution tasks passes right results and catches every changed entry", "[verify]") {
  Pcg32 rng(32, 1);
  const ConvCase c = ConvCase::Make(ConvGeometry{1, 5, 4, 3, 3, 3, 1, 1}, 3, 4, rng);
  const int64_t images = c.images;
  struct Task {
    const char* what;
    const RowOp& op;
    const Matrix &rows, &b;
  };
  for (const Task& t : {Task{"im2col . W", c.fwd, c.x, c.w}, Task{"col2im(dz . W^T)", c.bwd, c.dz, c.wt},
                        Task{"im2col^T . dz", c.wgt, c.channels, c.dz_pixels}}) {
    INFO(t.what);
    Matrix good(t.rows.rows(), t.op.OutCols(t.b.cols())), scratch;
    ApplyRowOp(t.op, t.rows, t.b, Eigen::Map<Matrix>(good.data(), good.rows(), good.cols()), scratch);
    CHECK(FreivaldsCheck(t.rows, t.b, good, rng, 1e-3, t.op).ok());
    // Every entry, changed by 1.5 % of its row's scale (the largest sum of
    // |terms| of an entry: as the plain check's test), is caught.
    Matrix scale(good.rows(), good.cols());
    ApplyRowOp(t.op, t.rows.cwiseAbs(), t.b.cwiseAbs(), Eigen::Map<Matrix>(scale.data(), scale.rows(), scale.cols()),
               scratch);
    int64_t caught = 0;
    for (int64_t i = 0; i < good.rows(); ++i) {
      const float step = 0.015f * scale.row(i).maxCoeff();
      for (int64_t j = 0; j < good.cols(); ++j) {
        Matrix bad = good;
        bad(i, j) += (i + j) % 2 ? step : -step;
        if (FreivaldsCheck(t.rows, t.b, bad, rng, 1e-3, t.op).code() == absl::StatusCode::kDataLoss) ++caught;
      }
    }
    CHECK(caught == good.size());
    // A result of the plain product's shape is refused, not checked.
    CHECK(FreivaldsCheck(t.rows, t.b, Matrix::Zero(t.rows.rows(), t.b.cols()), rng, 1e-3, t.op).code() ==
          absl::StatusCode::kInvalidArgument);
  }
  CHECK(FreivaldsCheck(c.x, c.wt, Matrix::Zero(images, c.dz.cols()), rng, 1e-3, c.fwd).code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge
