// The edge server: task pool + gRPC services + the deadline sweeper, wired.
// The in-process CNN trainer (issue 5) uses pool() directly, no loopback RPC.
#ifndef CODEDGE_SERVER_EDGE_SERVER_H_
#define CODEDGE_SERVER_EDGE_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "proto/credentials.h"
#include "server/services.h"
#include "server/task_pool.h"

namespace codedge {

struct EdgeServerOptions {
  std::string address = "0.0.0.0:50051";     // host:port; port 0 picks a free one
  absl::Duration sweep_every = absl::Milliseconds(100);  // job deadline checks
  int max_message_bytes = 1 << 30;
  WorkerServiceOptions workers;  // heartbeats and the silence timeout
  // Transport security (proto/credentials.h). The default, plaintext, is for
  // in-process use (tests, benchmarks' loopback clusters); Start logs a
  // warning. edge-server asks for it explicitly (--insecure).
  ServerSecurity security = PlaintextServer();
  // Check every result with Freivalds' test (TaskPool::SetVerifyResults).
  bool verify_results = false;
  int max_jobs_per_client = 64;  // Multiply calls in flight per client host
};

class EdgeServer {
 public:
  // Binds and starts serving. Unavailable if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<EdgeServer>> Start(const EdgeServerOptions& options);
  ~EdgeServer();  // Shutdown(1 s) if still running

  int port() const { return port_; }
  TaskPool& pool() { return pool_; }
  WorkerService& workers() { return workers_; }

  // Closes worker streams, stops accepting, waits up to `grace` for calls.
  void Shutdown(absl::Duration grace = absl::Seconds(1));

 private:
  explicit EdgeServer(const EdgeServerOptions& options)
      : options_(options),
        workers_(&pool_, options.workers, options.security.token),
        compute_(&pool_, &workers_, options.security.token, options.max_jobs_per_client) {}
  void Sweep();

  EdgeServerOptions options_;
  TaskPool pool_;
  WorkerService workers_;
  ComputeService compute_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Notification stop_;
  std::thread sweeper_;
  bool shut_down_ = false;
};

}  // namespace codedge

#endif  // CODEDGE_SERVER_EDGE_SERVER_H_
