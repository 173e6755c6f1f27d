#include "common/field.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"

namespace codedge {
namespace {
constexpr uint64_t kP = kFieldPrime;
}  // namespace

uint64_t FieldInv(uint64_t a) {
  // a^(p-2) by square-and-multiply (Fermat).
  uint64_t r = 1, e = kP - 2;
  while (e > 0) {
    if (e & 1) r = FieldMul(r, a);
    a = FieldMul(a, a);
    e >>= 1;
  }
  return r;
}

FieldMatrix FieldProductNaive(ConstFieldMatrixRef rows, const QuantMatrix& b) {
  FieldMatrix out(rows.rows(), b.cols());
  std::vector<__int128> acc(static_cast<size_t>(b.cols()));
  for (int64_t i = 0; i < rows.rows(); ++i) {
    std::fill(acc.begin(), acc.end(), 0);
    for (int64_t l = 0; l < rows.cols(); ++l) {
      const __int128 x = static_cast<__int128>(rows(i, l));
      const int32_t* br = b.data() + l * b.cols();
      for (int64_t j = 0; j < b.cols(); ++j) acc[j] += x * br[j];  // |sum| < inner * 2^76: no overflow
    }
    for (int64_t j = 0; j < b.cols(); ++j) {
      __int128 v = acc[j] % static_cast<__int128>(kP);
      if (v < 0) v += kP;
      out(i, j) = static_cast<uint64_t>(v);
    }
  }
  return out;
}

FieldOperand PrepareFieldOperand(QuantMatrix b) {
  FieldOperand op;
  op.small = b.size() == 0 || b.cwiseAbs().maxCoeff() < (1 << 15);
  op.d = b.cast<double>();
  op.q = std::move(b);
  return op;
}

FieldMatrix FieldProduct(ConstFieldMatrixRef rows, const QuantMatrix& b) {
  return FieldProduct(rows, PrepareFieldOperand(b));
}

FieldMatrix FieldProduct(ConstFieldMatrixRef rows, const FieldOperand& b) {
  // Each element x < 2^64 is cut into limbs of 21, 21 and 22 bits; a limb
  // times an entry of B (|b| < 2^15) summed over at most 2^16 terms stays
  // below 2^53, so three double GEMMs (BLAS) compute the limb products
  // exactly, and x . b = sum_l limb_l . b * 2^(21 l) is reassembled mod p.
  const int64_t inner = rows.cols();
  if (inner > (int64_t{1} << 16) || b.q.size() == 0 || !b.small) return FieldProductNaive(rows, b.q);
  const int64_t cols = b.q.cols();
  std::vector<__int128> acc(static_cast<size_t>(rows.rows() * cols), 0);
  MatrixD limb(rows.rows(), inner), part(rows.rows(), cols);
  for (int l = 0; l < 3; ++l) {
    const int shift = 21 * l;
    const uint64_t mask = l < 2 ? (uint64_t{1} << 21) - 1 : ~uint64_t{0};
    for (int64_t i = 0; i < rows.rows(); ++i) {
      for (int64_t c = 0; c < inner; ++c) limb(i, c) = static_cast<double>((rows(i, c) >> shift) & mask);
    }
    part.noalias() = limb * b.d;
    for (int64_t e = 0; e < part.size(); ++e) {
      acc[static_cast<size_t>(e)] += static_cast<__int128>(static_cast<int64_t>(part.data()[e])) << shift;
    }
  }
  FieldMatrix out(rows.rows(), cols);
  for (int64_t e = 0; e < out.size(); ++e) {
    __int128 v = acc[static_cast<size_t>(e)] % static_cast<__int128>(kP);
    if (v < 0) v += kP;
    out.data()[e] = static_cast<uint64_t>(v);
  }
  return out;
}

absl::StatusOr<QuantMatrix> IntegersFromFloat(ConstMatrixRef b) {
  QuantMatrix out(b.rows(), b.cols());
  for (int64_t i = 0; i < b.rows(); ++i) {
    for (int64_t j = 0; j < b.cols(); ++j) {
      const float v = b(i, j);
      if (!(std::abs(v) < 32768.0f) || v != std::nearbyint(v)) {
        return absl::InvalidArgumentError(absl::StrCat("B of a T-private task must hold integers below 2^15 in "
                                                       "magnitude; entry (", i, ", ", j, ") is ", v));
      }
      out(i, j) = static_cast<int32_t>(v);
    }
  }
  return out;
}

}  // namespace codedge
