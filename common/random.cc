#include "common/random.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>

namespace codedge {

Pcg32::Pcg32(uint64_t seed, uint64_t stream) : state_(0), inc_((stream << 1u) | 1u) {
  NextU32();
  state_ += seed;
  NextU32();
}

uint32_t Pcg32::NextU32() {
  uint64_t old = state_;
  state_ = old * 6364136223846793005ULL + inc_;
  uint32_t xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
  uint32_t rot = static_cast<uint32_t>(old >> 59u);
  return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

uint64_t Pcg32::NextU64() {
  uint64_t hi = NextU32();
  return (hi << 32) | NextU32();
}

uint32_t Pcg32::UniformInt(uint32_t bound) {
  assert(bound > 0);
  // Reject the low (2^32 mod bound) values so every residue is equally likely
  // (as pcg32_boundedrand_r).
  uint32_t threshold = (-bound) % bound;
  for (;;) {
    uint32_t r = NextU32();
    if (r >= threshold) return r % bound;
  }
}

double Pcg32::UniformDouble() {
  return static_cast<double>(NextU64() >> 11) * 0x1.0p-53;
}

double Pcg32::Uniform(double lo, double hi) { return lo + (hi - lo) * UniformDouble(); }

double Pcg32::Normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  // u1 in (0, 1] so that log(u1) is finite.
  double u1 = 1.0 - UniformDouble();
  double u2 = UniformDouble();
  double radius = std::sqrt(-2.0 * std::log(u1));
  double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_normal_ = true;
  return radius * std::cos(angle);
}

double Pcg32::Exponential(double mean) {
  double u = 1.0 - UniformDouble();  // (0, 1]
  return -mean * std::log(u);
}

uint64_t MixSeed(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

DiscreteSampler::DiscreteSampler(std::span<const double> weights) {
  cdf_.resize(weights.size());
  double total = 0.0;
  for (size_t i = 0; i < weights.size(); ++i) {
    assert(std::isfinite(weights[i]) && weights[i] >= 0.0);
    total += weights[i];
    cdf_[i] = total;
  }
  assert(total > 0.0);
  for (double& c : cdf_) c /= total;
  cdf_.back() = 1.0;
}

size_t DiscreteSampler::Sample(Pcg32& rng) const {
  double u = rng.UniformDouble();
  // First index whose cumulative probability exceeds u; zero-weight entries
  // share their predecessor's cdf value and are never chosen.
  auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  if (it == cdf_.end()) --it;
  return static_cast<size_t>(it - cdf_.begin());
}

}  // namespace codedge
