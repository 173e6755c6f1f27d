// PCG32 random generator (O'Neill, "PCG: A Family of Simple Fast
// Space-Efficient Statistically Good Algorithms for Random Number
// Generation", 2014; the pcg32 XSH-RR 64/32 variant) and our own sampling.
//
// Every random choice in codedge (LT degrees and neighbours, Gaussian
// generators, injected delays) goes through this class and never through
// std::*_distribution, whose output differs between standard libraries:
// a server, a worker and a test given the same seed agree bit for bit on the
// integers drawn and on every sample that uses only integer and IEEE
// arithmetic (Uniform*, Discrete); Normal and Exponential also call
// std::log / std::sqrt / std::cos, which glibc rounds identically on every
// platform we target.
//
// Not thread-safe: one generator per thread or per stream of decisions.
#ifndef CODEDGE_COMMON_RANDOM_H_
#define CODEDGE_COMMON_RANDOM_H_

#include <cstdint>
#include <span>
#include <vector>

namespace codedge {

class Pcg32 {
 public:
  // Same seeding as the reference pcg32_srandom_r(initstate, initseq):
  // generators with different `stream` values produce independent sequences.
  explicit Pcg32(uint64_t seed = 0x853c49e6748fea9bULL, uint64_t stream = 0xda3e39cb94b95bdbULL);

  // Next raw 32-bit output.
  uint32_t NextU32();
  uint64_t NextU64();

  // Uniform integer in [0, bound), unbiased (rejection). bound must be > 0.
  uint32_t UniformInt(uint32_t bound);
  // Uniform double in [0, 1) with 53 random bits.
  double UniformDouble();
  // Uniform double in [lo, hi).
  double Uniform(double lo, double hi);
  // Standard normal by the Box-Muller transform (caches the second value).
  double Normal();
  double Normal(double mean, double sd) { return mean + sd * Normal(); }
  // Exponential with the given mean (> 0), by inversion.
  double Exponential(double mean);

 private:
  uint64_t state_;
  uint64_t inc_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

// Mixes (seed, index) into a well-spread 64-bit value (SplitMix64 finalizer):
// used to derive an independent generator per coded symbol, so symbol i can be
// regenerated alone, in any order, by server and tests alike.
uint64_t MixSeed(uint64_t seed, uint64_t index);

// Samples an index in [0, weights.size()) with probability proportional to
// weights[i], by binary search over the cumulative distribution (built once).
class DiscreteSampler {
 public:
  // Weights must be finite, >= 0, with a positive sum (checked by callers;
  // violating it is a programmer error).
  explicit DiscreteSampler(std::span<const double> weights);
  size_t Sample(Pcg32& rng) const;
  size_t size() const { return cdf_.size(); }

 private:
  std::vector<double> cdf_;  // normalized, cdf_.back() == 1
};

}  // namespace codedge

#endif  // CODEDGE_COMMON_RANDOM_H_
