#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "codes/mds.h"
#include "tests/codes/test_util.h"

namespace codedge {
namespace {
using namespace codedge::testing;

// Calls f(subset) for every n-subset of {0..m-1}, in lexicographic order.
template <typename F>
void ForEachSubset(int64_t m, int64_t n, F&& f) {
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  for (;;) {
    f(idx);
    int64_t i = n - 1;
    while (i >= 0 && idx[i] == m - n + i) --i;
    if (i < 0) return;
    ++idx[i];
    for (int64_t j = i + 1; j < n; ++j) idx[j] = idx[j - 1] + 1;
  }
}

struct SubsetReport {
  int64_t subsets = 0, refused = 0;
  double worst_cond = 0, worst_err = 0;
  std::vector<double> errors;
};

// Encodes A once, multiplies every coded block by B (float, as a worker), and
// decodes from every n-subset of the m results. Decoding must succeed for
// every subset (but numerically singular ones, which must say so); the error must stay within what float32 data allows for the
// subset's condition number: err <= 2^-23 * cond * n (+ slack for cond ~ 1).
SubsetReport CheckAllSubsets(const MdsCode& code, const Matrix& a, const Matrix& b) {
  const MatrixD exact = ExactProduct(a, b);
  std::vector<Matrix> results;
  for (int64_t t = 0; t < code.m(); ++t) results.push_back(*code.Encode(*code.Task(t), a) * b);
  SubsetReport rep;
  ForEachSubset(code.m(), code.n(), [&](const std::vector<int64_t>& subset) {
    auto dec = code.NewDecoder();
    for (size_t i = 0; i < subset.size(); ++i) {
      auto st = dec->Add(subset[i], results[subset[i]]);
      REQUIRE(st.ok());
      REQUIRE((*st == DecodeState::kDecodable) == (i + 1 == subset.size()));
    }
    auto got = dec->Decode();
    const double cond = *code.ConditionNumber(subset);
    rep.subsets++;
    rep.worst_cond = std::max(rep.worst_cond, cond);
    if (!got.ok()) {
      // Only a numerically singular subset (the paper's equispaced nodes) may
      // refuse, and it must say so.
      INFO(code.name() << " cond=" << cond << ": " << got.status());
      REQUIRE(cond > 1e12);
      REQUIRE(got.status().code() == absl::StatusCode::kInternal);
      rep.refused++;
      return;
    }
    const double err = RelError(*got, exact);
    INFO(code.name() << " subset starting " << subset[0] << " cond=" << cond << " err=" << err);
    if (cond < 1e6) REQUIRE(err <= 0x1p-23 * cond * static_cast<double>(code.n()) + 1e-6);
    rep.worst_err = std::max(rep.worst_err, err);
    rep.errors.push_back(err);
  });
  return rep;
}

TEST_CASE("MDS: every n-subset decodes for all n <= 10, m <= 15, every generator", "[mds][slow]") {
  Pcg32 rng(99, 1);
  for (MdsGenerator g : kAllMdsGenerators) {
    double worst_cond = 0;
    int64_t subsets = 0, refused = 0;
    for (int64_t n = 1; n <= 10; ++n) {
      for (int64_t m = n; m <= 15; ++m) {
        // Ragged: rows not a multiple of n.
        const int64_t rows = 2 * n + 1, t = 3, cols = 2;
        const Matrix a = RandomMatrix(rows, t, rng), b = RandomMatrix(t, cols, rng);
        auto code = MdsCode::Create(rows, m, n, g, 7);
        REQUIRE(code.ok());
        SubsetReport rep = CheckAllSubsets(**code, a, b);
        worst_cond = std::max(worst_cond, rep.worst_cond);
        subsets += rep.subsets;
        refused += rep.refused;
      }
    }
    WARN(MdsGeneratorName(g) << ": " << subsets << " subsets, " << subsets - refused
                              << " decoded, worst condition number " << worst_cond);
    if (g != MdsGenerator::kVandermondeEquispaced) CHECK(refused == 0);
  }
}

TEST_CASE("MDS default generator meets the (15,10) float32 error target on every subset", "[mds]") {
  Pcg32 rng(4242, 2);
  const Matrix a = RandomMatrix(1000, 64, rng), b = RandomMatrix(64, 16, rng);
  auto code = MdsCode::Create(a.rows(), 15, 10);
  REQUIRE(code.ok());
  CHECK((*code)->generator_kind() == kDefaultMdsGenerator);
  SubsetReport rep = CheckAllSubsets(**code, a, b);
  CHECK(rep.subsets == 3003);
  std::sort(rep.errors.begin(), rep.errors.end());
  const double median = rep.errors[rep.errors.size() / 2];
  WARN("default " << (*code)->name() << ": worst cond " << rep.worst_cond << ", worst rel error "
                  << rep.worst_err << ", median " << median);
  CHECK(rep.worst_err <= 1e-3);
  CHECK(median <= 1e-5);
}

TEST_CASE("MDS equispaced Vandermonde is flagged ill-conditioned", "[mds]") {
  auto code = MdsCode::Create(10, 15, 10, MdsGenerator::kVandermondeEquispaced);
  REQUIRE(code.ok());
  std::vector<int64_t> last(10);
  for (int i = 0; i < 10; ++i) last[i] = 5 + i;
  CHECK(*(*code)->ConditionNumber(last) > 1e12);
}

TEST_CASE("MDS decodes any shape, including 1 row and 1 column, over many seeds", "[mds]") {
  Pcg32 rng(17, 3);
  struct Shape { int64_t rows, t, cols, m, n; };
  const Shape shapes[] = {{1, 1, 1, 1, 1}, {1, 3, 1, 3, 2}, {3, 1, 4, 5, 4}, {50, 7, 1, 12, 8}, {101, 9, 5, 20, 10}};
  for (const Shape& s : shapes) {
    for (int seed = 0; seed < 30; ++seed) {
      INFO("rows=" << s.rows << " m=" << s.m << " n=" << s.n << " seed=" << seed);
      const Matrix a = RandomMatrix(s.rows, s.t, rng), b = RandomMatrix(s.t, s.cols, rng);
      auto code = MdsCode::Create(s.rows, s.m, s.n, kDefaultMdsGenerator, seed);
      REQUIRE(code.ok());
      auto run = EncodeMultiplyDecode(**code, a, b, Shuffled(s.m, rng));
      REQUIRE(run.ok());
      CHECK(run->tasks_used == s.n);
      CHECK(RelError(run->product, ExactProduct(a, b)) < 1e-4);
    }
  }
}

TEST_CASE("MDS generator parsing", "[mds]") {
  CHECK(*ParseMdsGenerator("gaussian") == MdsGenerator::kGaussian);
  CHECK(*ParseMdsGenerator("systematic") == MdsGenerator::kSystematic);
  for (MdsGenerator g : kAllMdsGenerators) CHECK(*ParseMdsGenerator(MdsGeneratorName(g)) == g);
  CHECK(ParseMdsGenerator("cauchy").status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge
