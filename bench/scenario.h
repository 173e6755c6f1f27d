// What the cluster benchmarks (matmul, train) share: the strategies compared
// side by side, as code specs for a cluster of `workers`, and the latency
// distributions workers are given.
#ifndef CODEDGE_BENCH_SCENARIO_H_
#define CODEDGE_BENCH_SCENARIO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/random.h"

namespace codedge::bench {

// "uncoded", "speculative", "replication" (2 copies), "mds" ((1.5 n, n),
// default generator), "mds-systematic" or "lt" for `workers` workers:
// the codes/factory spec. `lt_options` (e.g. "symbol_rows=64") are appended
// to lt. InvalidArgument for an unknown name.
absl::StatusOr<std::string> StrategySpec(const std::string& name, int workers, const std::string& lt_options = "");

// The --strategies flag: ';' separates strategies when present
// ("uncoded:k=10;mds:m=15,n=10"); otherwise ',' does, and a piece with '='
// but no ':' is one more KEY=VALUE of the strategy before it
// ("uncoded,lt:symbols_per_task=20,symbol_rows=8" is two strategies).
std::vector<std::string> SplitStrategies(const std::string& flag);

// A latency distribution in time units: uniform (a, b), normal (mean a, sd b,
// truncated at 0) or exponential (mean a).
struct Latency {
  std::string dist;
  double a = 0, b = 0;
  std::string Label() const;
  double Draw(Pcg32& rng) const;
  // The edge-worker --delay value for a fresh draw per task, in seconds.
  std::string PerTaskFlag(double unit_seconds) const;
};

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_SCENARIO_H_
