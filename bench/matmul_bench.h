// `edge-bench matmul`: the paper's straggler experiments (sec. 4.1-4.2,
// Fig. 10-11) and the coded-computing literature's initial-delay model, on
// a live cluster of processes, every strategy side by side on the same
// latencies, each run also reported against the ideal bound T*.
//
// Models (time in units of --time_unit):
//   paper          worker i sleeps t_i once per job before computing
//                  (DelayScope::kJob); {t_1..t_N} is drawn once per
//                  (point, repeat) from a uniform, normal (truncated at 0)
//                  or exponential distribution. Scheme A: A of 1000..6000 x
//                  1000 rows times B 1000x10 with uniform 1-50, normal
//                  (20, 16), exponential (16) latencies; Scheme B: 6000 rows,
//                  uniform 1-10 .. 1-90, normal mean 20 with SD 12..20,
//                  exponential means 12..20.
//   initial-delay  worker i starts after X_i ~ Exp(mean mu) and then takes
//                  row_units per row (emulated speed, --row_time).
//
// T* is the completion time of a perfect fluid load balancer that knows
// every worker's start time and speed: the T with sum_i v_i (T - t_i)+ = rows.
// Speeds: 1 / row time (initial-delay), or the measured local single-thread
// product rate (paper model). Communication is free for T*, so T / T* >= 1
// up to noise, and measures everything a strategy and the system lose.
#ifndef CODEDGE_BENCH_MATMUL_BENCH_H_
#define CODEDGE_BENCH_MATMUL_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/credentials.h"

namespace codedge::bench {

struct MatmulOptions {
  std::string model = "paper";          // paper | initial-delay
  std::vector<std::string> schemes = {"A", "B"};
  std::vector<std::string> strategies = {"uncoded", "speculative", "replication", "mds", "mds-systematic", "lt"};
  absl::Duration time_unit = absl::ZeroDuration();  // 0: 30 ms (paper), 1 s (initial-delay)
  int workers = 10;
  int repeats = 3;
  bool quick = false;                   // fewer points (make demo)
  double cpu_quota = 0;                 // per worker, fraction of a core (0: none)
  double slowdown = 1;                  // edge-worker --slowdown for every worker (1: none)
  std::string delay_mode = "set";       // set: t_i drawn once per worker; per-task: a fresh draw per task
  double mu = 1.0;                      // initial-delay: mean of X_i (units)
  double row_units = 0.001;             // initial-delay: time per row (units)
  int64_t rows = 10000;                 // initial-delay: rows of A
  std::string lt_spec;                  // LT options for the lt strategy ("" = defaults)
  std::string server;                   // a running cluster (host:port): no launcher, its own latencies, no T*
  ClientSecurity security = PlaintextClient();  // towards `server` (a launched cluster is plaintext on loopback)
  uint64_t seed = 1;
};

struct MatmulRow {
  std::string scheme, distribution, param, strategy;
  int64_t rows = 0;
  int runs = 0;
  double t_median = 0, t_min = 0, t_max = 0;  // units
  double t_star_median = 0;                   // units
  double ratio_median = 0, ratio_min = 0, ratio_max = 0;
  double work_median = 0;                     // rows computed (incl. wasted) / rows of A
  double client_median = 0;                   // the client's Multiply round trip (units)
};

struct MatmulResult {
  std::vector<MatmulRow> rows;
  double time_unit_s = 0;
  bool quotas_applied = false;
  double wall_s = 0;
};

absl::StatusOr<MatmulResult> RunMatmulBench(const MatmulOptions& options);

// The fluid bound: the T with sum_i speed_i * max(0, T - start_i) = rows.
// InvalidArgument for empty input, rows <= 0 or non-positive speeds.
absl::StatusOr<double> IdealCompletionTime(const std::vector<double>& start, const std::vector<double>& speed,
                                           double rows);

void PrintMatmulTable(const MatmulResult& r, std::ostream& out);
std::string MatmulJson(const MatmulResult& r, const MatmulOptions& o);
std::string MatmulCsv(const MatmulResult& r);
// Writes data files and a gnuplot script into `dir` and runs gnuplot (PNG
// and SVG: fig10 Scheme A, fig11 Scheme B, ratio to ideal). Unavailable if
// gnuplot is not installed (the data and script are written anyway).
absl::Status WriteMatmulPlots(const MatmulResult& r, const std::string& dir);

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_MATMUL_BENCH_H_
