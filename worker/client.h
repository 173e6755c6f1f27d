// The edge worker's connection to the server: one bidirectional stream
// (proto/codedge.proto, Worker.Connect). It says Hello, grants `credits`
// task slots, caches B per job, computes tasks one at a time on a compute
// thread (TaskExecutor: injected delay, chunked product, slowdown) while the
// reader thread receives the next task and cancels, and reconnects with
// exponential backoff when the stream breaks (server restart).
#ifndef CODEDGE_WORKER_CLIENT_H_
#define CODEDGE_WORKER_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "proto/codedge.grpc.pb.h"
#include "proto/credentials.h"
#include "worker/delay.h"
#include "worker/executor.h"

namespace codedge {

struct WorkerOptions {
  std::string server = "127.0.0.1:50051";
  std::string name = "worker";
  int credits = 2;             // tasks in flight: one computes, the next is on its way
  int threads = 0;             // reported to the server (BLAS threads are set by the main)
  ExecOptions exec;
  DelaySpec delay;
  // kTask: a delay before every task; kJob: one delay per job, before the
  // worker's first task of that job (the paper's per-process latency, and
  // the initial-delay model of the coded-computing literature).
  enum class DelayScope { kTask, kJob };
  DelayScope delay_scope = DelayScope::kTask;
  uint64_t seed = 1;
  int64_t fail_after = 0;      // exit the process abruptly after this many results (0: never)
  double corrupt_results = 0;  // fault tests: this fraction of results get one entry changed (seeded)
  absl::Duration backoff_min = absl::Milliseconds(50);
  absl::Duration backoff_max = absl::Seconds(2);
  // A server that takes the stream but sends no Welcome within this time
  // (hung, or not an edge server) is left, and connected to again.
  absl::Duration welcome_timeout = absl::Seconds(30);
  int max_message_bytes = 1 << 30;
  // Transport security (proto/credentials.h); plaintext by default for
  // in-process use; edge-worker asks for it explicitly.
  ClientSecurity security = PlaintextClient();
};

class WorkerClient {
 public:
  // InvalidArgument for bad options (credits < 1, bad executor options).
  static absl::StatusOr<std::unique_ptr<WorkerClient>> Create(const WorkerOptions& options);

  // Serves until `stop` is notified (then OK), reconnecting after errors.
  // FailedPrecondition if the server refuses this worker (protocol version),
  // Unauthenticated if it refuses its token: retrying would not help.
  // When `drain` (optional) is notified, the worker leaves gracefully: it
  // asks the server for no more tasks (Drain), finishes and sends every task
  // it received, closes the stream and returns OK; `stop` still ends it at
  // once.
  absl::Status Run(absl::Notification* stop, absl::Notification* drain = nullptr);

  int64_t results_sent() const { return results_sent_.load(); }
  int64_t tasks_cancelled() const { return tasks_cancelled_.load(); }
  // Seconds from the server sending a cancel to this worker dropping the
  // task (the last 100 000 cancelled tasks).
  std::vector<double> cancel_latencies() const;

 private:
  WorkerClient(const WorkerOptions& options, TaskExecutor executor);
  // One stream, from Hello to its end; `welcomed` tells whether it got far.
  absl::Status ServeOnce(absl::Notification* stop, absl::Notification* drain, bool* welcomed, bool* drained);

  WorkerOptions options_;
  TaskExecutor executor_;
  DelaySampler delays_;
  std::unique_ptr<v1::Worker::Stub> stub_;
  std::atomic<int64_t> results_sent_{0}, tasks_cancelled_{0};
  std::atomic<uint64_t> corrupt_draws_{0};
  mutable std::mutex latency_mu_;
  std::vector<double> cancel_latencies_;  // guarded by latency_mu_
};

}  // namespace codedge

#endif  // CODEDGE_WORKER_CLIENT_H_
