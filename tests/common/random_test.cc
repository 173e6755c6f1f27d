#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "common/random.h"

namespace codedge {
namespace {

TEST_CASE("Pcg32 matches the reference pcg32 output (golden vector)", "[random]") {
  // pcg32-demo from the PCG reference implementation: pcg32_srandom_r(42, 54).
  Pcg32 rng(42u, 54u);
  const std::vector<uint32_t> want = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
  for (uint32_t w : want) CHECK(rng.NextU32() == w);
}

TEST_CASE("Pcg32 streams and seeds give different sequences", "[random]") {
  Pcg32 a(1, 1), b(1, 2), c(2, 1);
  const uint32_t x = a.NextU32(), y = b.NextU32(), z = c.NextU32();
  CHECK(x != y);
  CHECK(x != z);
  CHECK(MixSeed(1, 0) != MixSeed(1, 1));
  CHECK(MixSeed(1, 0) != MixSeed(2, 0));
}

TEST_CASE("UniformInt is in range and unbiased", "[random]") {
  Pcg32 rng(7, 3);
  const uint32_t bound = 6;
  std::vector<int> counts(bound, 0);
  const int n = 600000;
  for (int i = 0; i < n; ++i) {
    const uint32_t v = rng.UniformInt(bound);
    REQUIRE(v < bound);
    counts[v]++;
  }
  // Chi-square with 5 degrees of freedom; 20.5 is the 0.999 quantile.
  double chi2 = 0;
  const double expect = static_cast<double>(n) / bound;
  for (int c : counts) chi2 += (c - expect) * (c - expect) / expect;
  CHECK(chi2 < 20.5);
  CHECK(rng.UniformInt(1) == 0u);
}

TEST_CASE("UniformDouble, Normal and Exponential have the right moments", "[random]") {
  Pcg32 rng(11, 5);
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0, se = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.UniformDouble();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    su += u;
    const double z = rng.Normal(2.0, 3.0);
    sn += z;
    sn2 += (z - 2.0) * (z - 2.0);
    const double e = rng.Exponential(4.0);
    REQUIRE(e >= 0.0);
    se += e;
  }
  // Tolerances are ~5 standard errors of each mean.
  CHECK(std::abs(su / n - 0.5) < 5 * 0.2887 / std::sqrt(n));
  CHECK(std::abs(sn / n - 2.0) < 5 * 3.0 / std::sqrt(n));
  CHECK(std::abs(sn2 / n - 9.0) < 5 * 9.0 * std::sqrt(2.0 / n));
  CHECK(std::abs(se / n - 4.0) < 5 * 4.0 / std::sqrt(n));
}

TEST_CASE("DiscreteSampler follows its weights and never draws zero weights", "[random]") {
  const std::vector<double> w = {0.0, 1.0, 3.0, 0.0, 6.0};
  DiscreteSampler sampler(w);
  Pcg32 rng(3, 9);
  std::vector<int> counts(w.size(), 0);
  const int n = 100000;
  for (int i = 0; i < n; ++i) counts[sampler.Sample(rng)]++;
  CHECK(counts[0] == 0);
  CHECK(counts[3] == 0);
  for (size_t i : {1u, 2u, 4u}) {
    const double p = w[i] / 10.0;
    CHECK(std::abs(counts[i] / static_cast<double>(n) - p) < 5 * std::sqrt(p * (1 - p) / n));
  }
}

}  // namespace
}  // namespace codedge
