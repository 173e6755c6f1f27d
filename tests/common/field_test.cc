#include <catch2/catch.hpp>

#include <limits>

#include "common/field.h"
#include "common/random.h"

namespace codedge {
namespace {

// The oracle: one FieldMul and FieldAdd per multiply-add.
FieldMatrix SlowestProduct(const FieldMatrix& rows, const QuantMatrix& b) {
  FieldMatrix out(rows.rows(), b.cols());
  for (int64_t i = 0; i < rows.rows(); ++i) {
    for (int64_t j = 0; j < b.cols(); ++j) {
      uint64_t acc = 0;
      for (int64_t l = 0; l < rows.cols(); ++l) {
        const int64_t v = b(l, j);
        const uint64_t bv = v >= 0 ? static_cast<uint64_t>(v) : kFieldPrime - static_cast<uint64_t>(-v);
        acc = FieldAdd(acc, FieldMul(rows(i, l) % kFieldPrime, bv));
      }
      out(i, j) = acc;
    }
  }
  return out;
}

TEST_CASE("The limb-GEMM field product equals field arithmetic, extremes included", "[field]") {
  Pcg32 rng(21, 21);
  for (auto [r, inner, c] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {7, 300, 5}, {40, 33, 1}, {3, 1000, 9}}) {
    for (int fill = 0; fill < 3; ++fill) {
      INFO(r << "x" << inner << "x" << c << " fill " << fill);
      FieldMatrix rows(r, inner);
      QuantMatrix b(inner, c);
      for (int64_t i = 0; i < rows.size(); ++i) {
        // Canonical elements, then the largest of each limb, then any
        // uint64 (a worker does not range-check what it multiplies).
        rows.data()[i] = fill == 0 ? rng.NextU64() % kFieldPrime : fill == 1 ? kFieldPrime - 1 : rng.NextU64();
      }
      for (int64_t i = 0; i < b.size(); ++i) {
        b.data()[i] = fill == 1 ? (i % 2 ? 32767 : -32767) : static_cast<int32_t>(rng.UniformInt(65535)) - 32767;
      }
      const FieldMatrix want = SlowestProduct(rows, b);
      CHECK(FieldProduct(rows, b) == want);
      CHECK(FieldProductNaive(rows, b) == want);
    }
  }
  // Outside the exact range of the limb GEMMs (|b| >= 2^15) the naive
  // product is used: still right.
  FieldMatrix rows(2, 3);
  rows << 1, kFieldPrime - 1, 12345678901234ull, 5, 6, 7;
  QuantMatrix big(3, 2);
  big << (1 << 20), -(1 << 20), 3, 4, -5, (1 << 30);
  CHECK(FieldProduct(rows, big) == SlowestProduct(rows, big));
}

TEST_CASE("B of a T-private task converts back to integers or is refused", "[field][bad-input]") {
  Matrix b(2, 2);
  b << 1, -32767, 0, 32767;
  auto q = IntegersFromFloat(b);
  REQUIRE(q.ok());
  CHECK((*q)(0, 1) == -32767);
  b(1, 0) = 0.25f;
  CHECK(IntegersFromFloat(b).status().code() == absl::StatusCode::kInvalidArgument);
  b(1, 0) = 32768;
  CHECK(IntegersFromFloat(b).status().code() == absl::StatusCode::kInvalidArgument);
  b(1, 0) = std::numeric_limits<float>::quiet_NaN();
  CHECK(IntegersFromFloat(b).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge
