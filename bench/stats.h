// Small timing and statistics helpers shared by the edge-bench sub-commands.
#ifndef CODEDGE_BENCH_STATS_H_
#define CODEDGE_BENCH_STATS_H_

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace codedge::bench {

using SteadyClock = std::chrono::steady_clock;

inline double SecondsSince(SteadyClock::time_point since) {
  return std::chrono::duration<double>(SteadyClock::now() - since).count();
}

// The q-quantile (nearest rank) of a non-empty sample.
inline double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median wall time of `repeats` calls of f.
template <typename F>
double MedianSeconds(int repeats, F&& f) {
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto start = SteadyClock::now();
    f();
    t.push_back(SecondsSince(start));
  }
  return Median(t);
}

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_STATS_H_
