// Arithmetic in the prime field F_p, p = 2^61 - 1 (kFieldPrime,
// common/matrix.h): what the T-private strategy's server (codes/
// private_code.h) and its workers (worker/executor.h) compute with.
#ifndef CODEDGE_COMMON_FIELD_H_
#define CODEDGE_COMMON_FIELD_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/matrix.h"

namespace codedge {

// Signed fixed-point integers (|entry| < 2^15): quantized A and B.
using QuantMatrix = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// x mod p for any 128-bit x. Inline: the encoders' and decoders' inner loops.
inline uint64_t Reduce128(unsigned __int128 x) {
  // 2^61 = 1 (mod p): fold the high bits down.
  uint64_t lo = static_cast<uint64_t>(x & kFieldPrime) + static_cast<uint64_t>((x >> 61) & kFieldPrime) +
                static_cast<uint64_t>(x >> 122);
  lo = (lo & kFieldPrime) + (lo >> 61);
  return lo >= kFieldPrime ? lo - kFieldPrime : lo;
}
inline uint64_t FieldMul(uint64_t a, uint64_t b) { return Reduce128(static_cast<unsigned __int128>(a) * b); }
inline uint64_t FieldAdd(uint64_t a, uint64_t b) {
  const uint64_t s = a + b;
  return s >= kFieldPrime ? s - kFieldPrime : s;
}
inline uint64_t FieldSub(uint64_t a, uint64_t b) { return a >= b ? a - b : a + kFieldPrime - b; }
uint64_t FieldInv(uint64_t a);  // a != 0
// A signed integer as a field element (-v maps to p - v).
inline uint64_t FieldFromSigned(int64_t v) {
  const uint64_t r = (v >= 0 ? static_cast<uint64_t>(v) : static_cast<uint64_t>(-(v + 1)) + 1) % kFieldPrime;
  return v >= 0 || r == 0 ? r : kFieldPrime - r;
}

// What a worker computes: rows . b mod p (rows: any uint64, b small signed;
// the sums fit 128 bits for inner dimensions below 2^30).
// Exact double GEMMs on 21-bit limbs (BLAS speed) when |b| < 2^15 and the
// inner dimension is at most 2^16; FieldProductNaive (128-bit
// multiply-adds, the tests' oracle) otherwise.
FieldMatrix FieldProduct(ConstFieldMatrixRef rows, const QuantMatrix& b);
FieldMatrix FieldProductNaive(ConstFieldMatrixRef rows, const QuantMatrix& b);

// A field multiply-add costs about this many float ones (three exact double
// GEMMs on limbs, plus the reduction): what a worker's chunking and the
// server's speed estimates count a field row as.
inline constexpr int64_t kFieldMacCost = 4;

// B prepared once for many products (a worker's row chunks): its double
// copy and whether its entries allow the limb GEMMs.
struct FieldOperand {
  QuantMatrix q;
  MatrixD d;
  bool small = false;  // |b| < 2^15
};
FieldOperand PrepareFieldOperand(QuantMatrix b);
FieldMatrix FieldProduct(ConstFieldMatrixRef rows, const FieldOperand& b);

// B of a T-private job as it travels (float32 holding integers) back to
// integers; InvalidArgument for a non-integer or |entry| >= 2^15.
absl::StatusOr<QuantMatrix> IntegersFromFloat(ConstMatrixRef b);

}  // namespace codedge

#endif  // CODEDGE_COMMON_FIELD_H_
