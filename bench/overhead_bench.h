// `edge-bench overhead`: what the cluster machinery costs, on loopback, with
// an in-process edge server and worker clients (issue 3 targets):
//   - loopback bulk throughput (raw TCP), the bound's transfer term;
//   - end-to-end time of a thin uncoded product against the bound
//     bytes(A, B, C) / throughput + local single-thread product, with the
//     job's own breakdown;
//   - dispatch rate of tiny tasks through the pool.
#ifndef CODEDGE_BENCH_OVERHEAD_BENCH_H_
#define CODEDGE_BENCH_OVERHEAD_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"

namespace codedge::bench {

struct OverheadOptions {
  int64_t rows = 6000, inner = 1000, cols = 10;  // the end-to-end product
  int64_t e2e_tasks = 60;                        // uncoded blocks
  int e2e_workers = 2;
  int64_t dispatch_tasks = 20000;
  int dispatch_workers = 10;
  int repeats = 5;
  int64_t bulk_bytes = int64_t{64} << 20;
  int cancel_jobs = 200;
  uint64_t seed = 1;
};

struct OverheadResult {
  double loopback_bytes_per_s = 0;
  double local_product_s = 0;
  double verify_s = 0;  // Freivalds check of that product's result (edge-server --verify_results)
  double e2e_s = 0, bound_s = 0;
  double encode_s = 0, queue_s = 0, compute_s = 0, decode_s = 0, job_s = 0;
  // In process: the job submitted to the server's pool directly (as the trainer does).
  double inproc_s = 0, inproc_bound_s = 0, inproc_encode_s = 0, inproc_compute_s = 0;
  int64_t e2e_bytes = 0;
  double dispatch_tasks_per_s = 0;
  int64_t bulk_bytes = 0;
  double bulk_bytes_per_s = 0;
  int64_t cancels = 0;
  double cancel_p50_s = 0, cancel_p99_s = 0, cancel_max_s = 0;
  int64_t dispatch_tasks = 0;
};

absl::StatusOr<OverheadResult> RunOverheadBench(const OverheadOptions& options);
void PrintOverheadTable(const OverheadResult& r, const OverheadOptions& o, std::ostream& out);
std::string OverheadJson(const OverheadResult& r);

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_OVERHEAD_BENCH_H_
