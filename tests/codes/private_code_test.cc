#include <catch2/catch.hpp>

#include <tuple>

#include <algorithm>
#include <numeric>

#include "codes/private_code.h"
#include "common/matrix_util.h"
#include "common/random.h"

namespace codedge {
namespace {

uint64_t NaiveMul(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(a) * b) % kFieldPrime);
}

TEST_CASE("Field arithmetic mod 2^61-1 agrees with 128-bit remainders", "[private]") {
  Pcg32 rng(41, 1);
  auto draw = [&] { return ((uint64_t{rng.NextU32()} << 32) | rng.NextU32()) % kFieldPrime; };
  for (int i = 0; i < 20000; ++i) {
    const uint64_t a = i < 4 ? kFieldPrime - 1 - i : draw();
    const uint64_t b = i < 2 ? kFieldPrime - 1 : draw();
    CHECK(FieldMul(a, b) == NaiveMul(a, b));
    CHECK(FieldAdd(a, b) == (a + b) % kFieldPrime);
    CHECK(FieldSub(a, b) == (a + kFieldPrime - b) % kFieldPrime);
    if (a != 0) CHECK(FieldMul(a, FieldInv(a)) == 1);
  }
}

TEST_CASE("T-private product: exact in integers from any k+t results, float error within quantization", "[private]") {
  Pcg32 rng(41, 2);
  const Matrix a = RandomUniformMatrix(101, 60, rng), b = RandomUniformMatrix(60, 7, rng);
  auto q = Quantize(a, b, 16);
  REQUIRE(q.ok());
  const MatrixD exact_q = q->a.cast<double>() * q->b.cast<double>();
  PrivateParams p;
  p.k = 3;
  p.t = 2;
  p.n = 7;
  auto code = PrivateCode::Create(p, a.rows(), a.cols());
  REQUIRE(code.ok());
  auto blocks = code->Encode(q->a, [&] { return (uint64_t{rng.NextU32()} << 32) | rng.NextU32(); });
  REQUIRE(blocks.size() == 7);
  std::vector<FieldMatrix> results;
  for (const auto& blk : blocks) results.push_back(FieldProduct(blk, q->b));
  // Every 5-subset of the 7 tasks decodes the exact integer product.
  std::vector<int> pick(7, 0);
  std::fill(pick.begin(), pick.begin() + 5, 1);
  int subsets = 0;
  do {
    std::vector<int64_t> ids;
    std::vector<FieldMatrix> got;
    for (int i = 0; i < 7; ++i)
      if (pick[i]) ids.push_back(i), got.push_back(results[i]);
    auto d = code->Decode(ids, got);
    REQUIRE(d.ok());
    CHECK(*d == exact_q);
    ++subsets;
  } while (std::prev_permutation(pick.begin(), pick.end()));
  CHECK(subsets == 21);
  // Against the float product: 16-bit fixed point, relative error <= 1e-3
  // (issue 6 target); the bound from rounding each entry by half a step:
  // |dC| <= 0.5 (|A| sB + sA |B|) summed over the inner dimension.
  const std::vector<int64_t> ids = {6, 0, 3, 5, 1};
  std::vector<FieldMatrix> got;
  for (int64_t i : ids) got.push_back(results[i]);
  auto product = code->DecodeProduct(ids, got, *q);
  REQUIRE(product.ok());
  const MatrixD exact = a.cast<double>() * b.cast<double>();
  const double err = RelativeError(*product, exact);
  INFO("relative error " << err);
  CHECK(err <= 1e-3);
  const MatrixD bound = 0.5 * (a.cast<double>().cwiseAbs() * MatrixD::Ones(60, 7) * q->b_scale +
                               MatrixD::Ones(101, 60) * b.cast<double>().cwiseAbs() * q->a_scale) +
                        MatrixD::Constant(101, 7, 0.25 * 60 * q->a_scale * q->b_scale);
  CHECK(((product->cast<double>() - exact).cwiseAbs().array() <= bound.array() + 1e-5).all());
}

// Chi-square statistic of `values` (top 6 bits of field elements) against
// the uniform distribution over 64 buckets.
double ChiSquareTop6(const std::vector<uint64_t>& values) {
  std::vector<double> count(64, 0);
  for (uint64_t v : values) count[v >> 55]++;  // p < 2^61: bits 55..60
  const double expect = static_cast<double>(values.size()) / 64;
  double chi = 0;
  for (double c : count) chi += (c - expect) * (c - expect) / expect;
  return chi;
}

TEST_CASE("T-private encoding stays exact with many masks and on the many-block path", "[private]") {
  Pcg32 rng(41, 3);
  // t = 40 masks (the limb GEMMs' largest shifted sums), then k + t > 512
  // (the 128-bit path).
  for (auto [k, t, rows, inner] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{5, 40, 23, 9}, {10, 503, 10, 2}}) {
    INFO("k=" << k << " t=" << t);
    const Matrix a = RandomUniformMatrix(rows, inner, rng), b = RandomUniformMatrix(inner, 3, rng);
    auto q = Quantize(a, b, 16);
    REQUIRE(q.ok());
    PrivateParams p;
    p.k = k;
    p.t = t;
    p.n = k + t + 2;
    auto code = PrivateCode::Create(p, rows, inner);
    REQUIRE(code.ok());
    // Masks at the top of the field: the largest limbs.
    auto blocks = code->Encode(q->a, [&] { return kFieldPrime - 1 - (rng.NextU32() & 1); });
    std::vector<int64_t> ids;
    std::vector<FieldMatrix> got;
    for (int64_t i = 2; i < p.n; ++i) ids.push_back(i), got.push_back(FieldProduct(blocks[i], q->b));
    auto d = code->Decode(ids, got);
    REQUIRE(d.ok());
    CHECK(*d == q->a.cast<double>() * q->b.cast<double>());
  }
}

TEST_CASE("What T colluding workers see is uniform whatever A is; without masks it is not", "[private][security]") {
  PrivateParams p;
  p.k = 4;
  p.t = 2;
  p.n = 8;
  auto code = PrivateCode::Create(p, 8, 3);
  REQUIRE(code.ok());
  Pcg32 rng(41, 3);
  auto random = [&] { return (uint64_t{rng.NextU32()} << 32) | rng.NextU32(); };
  QuantMatrix zero = QuantMatrix::Zero(8, 3), big = QuantMatrix::Constant(8, 3, 32767);
  big(0, 0) = -32767;
  // 99.9 % quantile of chi-square with 63 degrees of freedom: 103.4. The two
  // colluders' entries are tested one by one and as their sum (a joint
  // statistic: a linear relation between them would show there).
  const double critical = 103.4;
  for (const QuantMatrix* a : {&zero, &big}) {
    std::vector<uint64_t> w2, w5, sum;
    for (int draw = 0; draw < 6400; ++draw) {
      auto blocks = code->Encode(*a, random);
      w2.push_back(blocks[2](0, 0));
      w5.push_back(blocks[5](0, 0));
      sum.push_back(FieldAdd(blocks[2](0, 0), FieldMul(3, blocks[5](0, 0))));
    }
    CHECK(ChiSquareTop6(w2) < critical);
    CHECK(ChiSquareTop6(w5) < critical);
    CHECK(ChiSquareTop6(sum) < critical);
  }
  // The same test on a code without masks (every mask 0: a plain Lagrange /
  // MDS-like code) fails: the view is a function of A.
  std::vector<uint64_t> plain;
  for (int draw = 0; draw < 6400; ++draw) plain.push_back(code->Encode(big, [] { return uint64_t{0}; })[2](0, 0));
  CHECK(ChiSquareTop6(plain) > 10 * critical);
}

TEST_CASE("T-private code: bad parameters and decodes are refused", "[private][bad-input]") {
  PrivateParams p;
  p.k = 5;
  p.t = 3;
  p.n = 7;
  CHECK(PrivateCode::Create(p, 10, 10).status().code() == absl::StatusCode::kInvalidArgument);  // k + t > n
  p.n = 8;
  p.bits = 17;
  CHECK(PrivateCode::Create(p, 10, 10).status().code() == absl::StatusCode::kInvalidArgument);
  p.bits = 16;
  CHECK(PrivateCode::Create(p, 10, int64_t{1} << 30).status().code() == absl::StatusCode::kInvalidArgument);
  auto code = PrivateCode::Create(p, 10, 4);
  REQUIRE(code.ok());
  std::vector<FieldMatrix> r(8, FieldMatrix::Zero(2, 3));
  CHECK(code->Decode({0, 1, 2}, {r[0], r[1], r[2]}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(code->Decode({0, 1, 2, 3, 4, 5, 6, 6}, r).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(code->Decode({0, 1, 2, 3, 4, 5, 6, 9}, r).status().code() == absl::StatusCode::kInvalidArgument);
  Matrix nan = Matrix::Zero(2, 2);
  nan(0, 0) = std::numeric_limits<float>::quiet_NaN();
  CHECK(Quantize(nan, Matrix::Ones(2, 2), 16).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge
