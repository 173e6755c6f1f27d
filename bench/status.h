// `edge-bench status`: the cluster as a running edge server sees it
// (Compute.ClusterStatus): its workers, their speed estimates, tasks done,
// liveness, faulty or draining state, and the jobs in flight.
#ifndef CODEDGE_BENCH_STATUS_H_
#define CODEDGE_BENCH_STATUS_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/codedge.pb.h"
#include "proto/credentials.h"

namespace codedge::bench {

// One ClusterStatus call to `server` (HOST:PORT) with `security`, within
// `timeout`; the server's error otherwise.
absl::StatusOr<v1::ClusterStatusResponse> FetchClusterStatus(const std::string& server, const ClientSecurity& security,
                                                             absl::Duration timeout = absl::Seconds(10));

// A line for the cluster, then a row per worker ("last seen" relative to `now`).
void PrintClusterStatus(const v1::ClusterStatusResponse& status, const std::string& server, absl::Time now,
                        std::ostream& out);

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_STATUS_H_
