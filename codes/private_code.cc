#include "codes/private_code.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"

namespace codedge {
namespace {

constexpr uint64_t kP = kFieldPrime;


double ToSigned(uint64_t v) {
  return v > kP / 2 ? -static_cast<double>(kP - v) : static_cast<double>(v);
}

// Lagrange basis polynomial j over `xs`, evaluated at z.
uint64_t LagrangeAt(const std::vector<uint64_t>& xs, size_t j, uint64_t z) {
  uint64_t num = 1, den = 1;
  for (size_t m = 0; m < xs.size(); ++m) {
    if (m == j) continue;
    num = FieldMul(num, FieldSub(z, xs[m]));
    den = FieldMul(den, FieldSub(xs[j], xs[m]));
  }
  return FieldMul(num, FieldInv(den));
}

}  // namespace

absl::StatusOr<Quantized> Quantize(ConstMatrixRef a, ConstMatrixRef b, int bits) {
  if (bits < 2 || bits > 16) return absl::InvalidArgumentError(absl::StrCat("fixed point needs 2..16 bits, got ", bits));
  if (!a.allFinite() || !b.allFinite()) return absl::InvalidArgumentError("cannot quantize non-finite values");
  const double top = std::ldexp(1.0, bits - 1) - 1;
  Quantized q;
  auto one = [&](ConstMatrixRef m, QuantMatrix* out, double* scale) {
    const double max = m.size() > 0 ? static_cast<double>(m.cwiseAbs().maxCoeff()) : 0.0;
    *scale = max > 0 ? max / top : 1.0;
    *out = (m.cast<double>() / *scale).array().round().cast<int32_t>();
  };
  one(a, &q.a, &q.a_scale);
  one(b, &q.b, &q.b_scale);
  return q;
}

PrivateCode::PrivateCode(PrivateParams p, int64_t rows, int64_t inner)
    : params_(p), rows_(rows), inner_(inner), block_rows_((rows + p.k - 1) / p.k) {
  for (int64_t j = 0; j < p.k + p.t; ++j) beta_.push_back(static_cast<uint64_t>(j + 1));
  for (int64_t i = 0; i < p.n; ++i) alpha_.push_back(static_cast<uint64_t>(p.k + p.t + 1 + i));
  encode_coef_.assign(p.n, std::vector<uint64_t>(beta_.size()));
  for (int64_t i = 0; i < p.n; ++i)
    for (size_t j = 0; j < beta_.size(); ++j) encode_coef_[i][j] = LagrangeAt(beta_, j, alpha_[i]);
}

absl::StatusOr<PrivateCode> PrivateCode::Create(const PrivateParams& p, int64_t rows, int64_t inner) {
  if (p.k < 1 || p.t < 1 || p.n < p.k + p.t || p.n > 4096) {
    return absl::InvalidArgumentError(absl::StrCat("T-private code needs 1 <= k, 1 <= t, k + t <= n <= 4096; got k=",
                                                   p.k, " t=", p.t, " n=", p.n));
  }
  if (p.bits < 2 || p.bits > 16) return absl::InvalidArgumentError(absl::StrCat("bits must be 2..16, got ", p.bits));
  if (rows < 1 || inner < 1) return absl::InvalidArgumentError("empty matrix");
  if (inner >= (int64_t{1} << (62 - 2 * p.bits))) {
    return absl::InvalidArgumentError(absl::StrCat("inner dimension ", inner, " overflows the field at ", p.bits,
                                                   "-bit fixed point"));
  }
  return PrivateCode(p, rows, inner);
}

std::vector<FieldMatrix> PrivateCode::Encode(const QuantMatrix& a_q, const std::function<uint64_t()>& random) const {
  const int64_t k = params_.k, t = params_.t;
  // U_0..U_{k-1}: the blocks of A (zero-padded), U_k..: the masks.
  std::vector<FieldMatrix> u(k + t, FieldMatrix::Zero(block_rows_, inner_));
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t r = 0; r < block_rows_; ++r) {
      const int64_t row = j * block_rows_ + r;
      if (row >= rows_) break;
      for (int64_t c = 0; c < inner_; ++c) u[j](r, c) = FieldFromSigned(a_q(row, c));
    }
  }
  for (int64_t m = 0; m < t; ++m) {
    FieldMatrix& z = u[k + m];
    if (!random) SecureRandomBytes(z.data(), static_cast<size_t>(z.size()) * sizeof(uint64_t));
    for (int64_t e = 0; e < z.size(); ++e) {
      uint64_t v = random ? random() : z.data()[e];
      while ((v & kP) == kP) v = random ? random() : SecureRandomU64();  // reject p itself: uniform in [0, p)
      z.data()[e] = v & kP;
    }
  }
  // Task i = sum_j l_j(alpha_i) U_j, summed in 128 bits: each product is
  // < 2^122, so the sums are folded back below 2^61 every 32 terms (64
  // unreduced terms could overflow 128 bits).
  std::vector<FieldMatrix> out(params_.n, FieldMatrix(block_rows_, inner_));
  std::vector<unsigned __int128> acc(static_cast<size_t>(block_rows_ * inner_));
  for (int64_t i = 0; i < params_.n; ++i) {
    std::fill(acc.begin(), acc.end(), 0);
    for (size_t j = 0; j < u.size(); ++j) {
      const unsigned __int128 c = encode_coef_[i][j];
      const uint64_t* src = u[j].data();
      for (size_t e = 0; e < acc.size(); ++e) acc[e] += c * src[e];
      if (j % 32 == 31) {
        for (auto& x : acc) x = Reduce128(x);
      }
    }
    uint64_t* dst = out[i].data();
    for (size_t e = 0; e < acc.size(); ++e) dst[e] = Reduce128(acc[e]);
  }
  return out;
}

absl::StatusOr<MatrixD> PrivateCode::Decode(const std::vector<int64_t>& ids,
                                            const std::vector<FieldMatrix>& results) const {
  const int64_t need = recovery_threshold();
  if (static_cast<int64_t>(ids.size()) != need || results.size() != ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat("T-private decode needs exactly ", need, " results, got ",
                                                   ids.size()));
  }
  std::vector<uint64_t> xs;
  for (int64_t id : ids) {
    if (id < 0 || id >= params_.n) return absl::InvalidArgumentError(absl::StrCat("task ", id, " out of range"));
    for (uint64_t x : xs)
      if (x == alpha_[id]) return absl::InvalidArgumentError(absl::StrCat("task ", id, " given twice"));
    xs.push_back(alpha_[id]);
  }
  const int64_t cols = results[0].cols();
  for (const FieldMatrix& r : results) {
    if (r.rows() != block_rows_ || r.cols() != cols) return absl::InvalidArgumentError("result shapes differ");
  }
  MatrixD out(rows_, cols);
  for (int64_t j = 0; j < params_.k; ++j) {
    FieldMatrix f = FieldMatrix::Zero(block_rows_, cols);
    for (size_t r = 0; r < xs.size(); ++r) {
      const uint64_t c = LagrangeAt(xs, r, beta_[j]);
      for (int64_t e = 0; e < f.size(); ++e) f.data()[e] = FieldAdd(f.data()[e], FieldMul(c, results[r].data()[e]));
    }
    for (int64_t r = 0; r < block_rows_; ++r) {
      const int64_t row = j * block_rows_ + r;
      if (row >= rows_) break;
      for (int64_t c = 0; c < cols; ++c) out(row, c) = ToSigned(f(r, c));
    }
  }
  return out;
}

absl::StatusOr<Matrix> PrivateCode::DecodeProduct(const std::vector<int64_t>& ids,
                                                  const std::vector<FieldMatrix>& results, const Quantized& q) const {
  absl::StatusOr<MatrixD> exact = Decode(ids, results);
  if (!exact.ok()) return exact.status();
  return (*exact * (q.a_scale * q.b_scale)).cast<float>();
}

}  // namespace codedge
