// `edge-bench train`: time per batch of a coded CNN training step on a
// launched cluster of straggling workers, for each strategy, under the
// paper's three latency distributions (Fig. 12 shape), plus the test
// accuracy after a fixed number of batches. The trainer runs in this
// process on an in-process edge server (as `edge-server train` does); the
// workers are real edge-worker processes, each sleeping its latency t_i once
// per product (DelayScope::kJob), t_i drawn once per distribution.
#ifndef CODEDGE_BENCH_TRAIN_BENCH_H_
#define CODEDGE_BENCH_TRAIN_BENCH_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace codedge::bench {

struct TrainBenchOptions {
  std::vector<std::string> strategies = {"uncoded", "replication", "mds", "mds-systematic", "lt"};
  int workers = 10;
  int64_t batches = 10;
  int64_t test_limit = 1000;
  absl::Duration time_unit = absl::Milliseconds(1);  // latencies: uniform 1-50, normal (20, 16), exp (16) units
  std::string data = "/usr/share/datasets/fashion-mnist";
  uint64_t seed = 1;
  // Per worker, a fraction of one core (cgroup quota; 0: none): slow devices
  // on a host with fewer cores than workers. The bound counts each worker at
  // that fraction of this machine's single-thread rate.
  double cpu_quota = 0;
};

struct TrainBenchRow {
  std::string distribution, strategy;
  double ms_per_batch = 0, test_accuracy = 0;
  // Of ms_per_batch, the time the trainer waited for its products (remote
  // and local): what the bound below is a bound of.
  double product_ms_per_batch = 0;
  int64_t batches = 0;
  // The ideal bound summed over one batch's products: for each product the
  // fluid load balancer's completion time T* over the workers' latencies
  // t_i, every worker at this machine's single-thread rate for that
  // product's shape (times cpu_quota when set; matmul's
  // IdealCompletionTime); products the engine
  // keeps local count at their local time. The rest of a training step
  // (im2col, activations, the update) is not in it.
  double bound_ms_per_batch = 0;
};

absl::StatusOr<std::vector<TrainBenchRow>> RunTrainBench(const TrainBenchOptions& options);
void PrintTrainTable(const std::vector<TrainBenchRow>& rows, std::ostream& out);
std::string TrainJson(const std::vector<TrainBenchRow>& rows);
std::string TrainCsv(const std::vector<TrainBenchRow>& rows);
// train.dat, train.gp and, through gnuplot, train.png / train.svg (ms per
// batch per strategy, grouped by latency distribution: the shape of Fig. 12).
absl::Status WriteTrainPlots(const std::vector<TrainBenchRow>& rows, const std::string& dir);

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_TRAIN_BENCH_H_
