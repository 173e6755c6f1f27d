// `edge-bench scale`: the limits of one edge server on this machine (issue
// 7, item 4), and what splitting the same workers over several servers
// ("cells") changes. Everything runs in this process on loopback: the real
// gRPC services and worker clients, one TCP connection per worker.
//
// Per point (servers x workers):
//   - connect: time until every worker is connected;
//   - dispatch: tiny jobs (one 16-row task per worker; `concurrency` jobs in
//     flight, spread over the servers) for `seconds`: tasks and jobs per second;
//   - bulk: one job of `bulk_mb` MiB of A over all workers (split between the
//     servers): bytes of tasks per second;
//   - memory: growth of this process's resident set per connected worker
//     (server and client side together, an upper bound for the server's).
// Every product is checked against the local one.
#ifndef CODEDGE_BENCH_SCALE_BENCH_H_
#define CODEDGE_BENCH_SCALE_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace codedge::bench {

struct ScaleOptions {
  std::vector<int> workers = {10, 100, 500};  // total workers per point
  int cells = 2;            // the split run: this many servers share the largest worker count (1: none)
  int concurrency = 8;      // dispatch: jobs in flight
  double seconds = 2;       // dispatch: measuring time per point
  int64_t bulk_mb = 64;     // bulk: MiB of A per job
  uint64_t seed = 1;
};

struct ScalePoint {
  int servers = 1;
  int workers = 0;  // in total
  double connect_s = 0;
  int64_t jobs = 0;
  double jobs_per_s = 0, tasks_per_s = 0;
  double bulk_bytes_per_s = 0;
  double rss_mb_per_worker = 0;
};

struct ScaleResult {
  std::vector<ScalePoint> points;
};

// InvalidArgument for worker counts < 1, cells < 1, concurrency < 1,
// seconds <= 0 or bulk_mb < 1.
absl::StatusOr<ScaleResult> RunScaleBench(const ScaleOptions& options);
void PrintScaleTable(const ScaleResult& r, const ScaleOptions& o, std::ostream& out);
std::string ScaleJson(const ScaleResult& r);

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_SCALE_BENCH_H_
