// An edge server and worker clients in this process, on loopback (the
// overhead and scale benchmarks): the real gRPC services and worker code,
// without process start-up.
#ifndef CODEDGE_BENCH_IN_PROCESS_CLUSTER_H_
#define CODEDGE_BENCH_IN_PROCESS_CLUSTER_H_

#include <functional>
#include <string>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/matrix.h"
#include "proto/codedge.grpc.pb.h"
#include "server/edge_server.h"
#include "worker/client.h"

namespace codedge::bench {

struct InProcessCluster {
  std::unique_ptr<EdgeServer> server;
  std::vector<std::unique_ptr<WorkerClient>> clients;
  std::vector<std::unique_ptr<absl::Notification>> stops;
  std::vector<std::thread> threads;
  ~InProcessCluster();
};

// A server on 127.0.0.1:0 and `workers` clients (customize adjusts each
// one's options); DeadlineExceeded unless all connect within `connect_timeout`.
absl::StatusOr<std::unique_ptr<InProcessCluster>> StartInProcessCluster(
    int workers, const std::function<void(int, WorkerOptions&)>& customize = nullptr,
    absl::Duration connect_timeout = absl::Seconds(10));

// A Compute stub for 127.0.0.1:port (plaintext, 1 GiB messages).
std::unique_ptr<v1::Compute::Stub> Stub(int port);

// A Multiply request for A.B under `spec`.
v1::MultiplyRequest MultiplyRequestFor(const Matrix& a, const Matrix& b, const std::string& spec);

// One Multiply call with a 120 s deadline.
absl::StatusOr<v1::MultiplyResponse> Call(v1::Compute::Stub& stub, const v1::MultiplyRequest& req);

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_IN_PROCESS_CLUSTER_H_
