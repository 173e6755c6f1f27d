// T-private coded matrix multiplication (issue 6): Lagrange coded computing
// (Yu et al., "Lagrange Coded Computing", 2019; the scheme behind
// CodedPrivateML) over the prime field F_p, p = 2^61 - 1.
//
//   1. A and B are quantized to signed fixed point: each to `bits`-bit
//      integers of its own scale (max |entry| -> 2^(bits-1) - 1), so
//      A_q . B_q is exact in integers (|entries| < K_inner * 2^(2 bits - 2)
//      < p / 2).
//   2. A_q is cut into K row blocks A_1..A_K, mapped into F_p. A polynomial
//      u of degree K + T - 1 takes u(beta_j) = A_j (j <= K) and
//      u(beta_{K+t}) = Z_t, T blocks of uniform random field elements.
//   3. Worker i receives u(alpha_i) and B_q; it returns u(alpha_i) . B_q
//      (mod p) -- the evaluation of f = u . B_q, of degree K + T - 1.
//   4. Any K + T results determine f (recovery threshold K + T: N - K - T
//      stragglers tolerated); f(beta_j) = A_j . B_q, mapped back to signed
//      integers and scaled.
//
// Privacy: any T workers' blocks are uniformly random and independent of A
// (the T masks enter through an invertible T x T Lagrange matrix), in the
// information-theoretic sense, not just "hard to invert". B travels as it is
// (the model's weights in training); only A is protected. Exactness: the
// only error is the quantization of A and B (bound below).
#ifndef CODEDGE_CODES_PRIVATE_CODE_H_
#define CODEDGE_CODES_PRIVATE_CODE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/field.h"
#include "common/matrix.h"

namespace codedge {


struct PrivateParams {
  int64_t k = 10;   // row blocks of A
  int64_t t = 2;    // colluding workers that learn nothing
  int64_t n = 15;   // tasks (workers); recovery threshold k + t <= n
  int bits = 16;    // fixed-point width of A and B (2..16)
};

// A and B as signed `bits`-bit integers with their scales: A ~= a * a_scale.
struct Quantized {
  QuantMatrix a, b;
  double a_scale = 1, b_scale = 1;
};
// InvalidArgument for non-finite entries or bits outside [2, 16].
absl::StatusOr<Quantized> Quantize(ConstMatrixRef a, ConstMatrixRef b, int bits);

// What a worker computes: FieldProduct (common/field.h).

class PrivateCode {
 public:
  // InvalidArgument unless 1 <= k, 1 <= t, k + t <= n, 2 <= bits <= 16 and
  // the product fits the field (inner dimension < 2^(62 - 2 bits)).
  static absl::StatusOr<PrivateCode> Create(const PrivateParams& params, int64_t rows, int64_t inner);

  // The n encoded blocks (rows / k rounded up, x inner), one per worker.
  // `random` draws the masks: uniform 64-bit words (default: OpenSSL's
  // RAND_bytes, common/crypto.h; tests pass a seeded generator).
  std::vector<FieldMatrix> Encode(const QuantMatrix& a_q, const std::function<uint64_t()>& random = {}) const;

  // A_q . B_q (rows x cols, exact integers as doubles) from the results of
  // any k + t distinct tasks (`ids` in [0, n)); InvalidArgument otherwise.
  absl::StatusOr<MatrixD> Decode(const std::vector<int64_t>& ids, const std::vector<FieldMatrix>& results) const;

  // End to end: A . B (float) from the results, with the quantization scales.
  absl::StatusOr<Matrix> DecodeProduct(const std::vector<int64_t>& ids, const std::vector<FieldMatrix>& results,
                                       const Quantized& q) const;

  int64_t recovery_threshold() const { return params_.k + params_.t; }
  int64_t block_rows() const { return block_rows_; }
  const PrivateParams& params() const { return params_; }

 private:
  PrivateCode(PrivateParams p, int64_t rows, int64_t inner);
  PrivateParams params_;
  int64_t rows_, inner_, block_rows_;
  std::vector<uint64_t> beta_, alpha_;
  std::vector<std::vector<uint64_t>> encode_coef_;  // [task][j]: l_j(alpha_task)
};

// Field arithmetic: common/field.h.

}  // namespace codedge

#endif  // CODEDGE_CODES_PRIVATE_CODE_H_
