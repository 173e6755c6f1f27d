// The gRPC edge of the server: thin reactors that call TaskPool.
//
//   WorkerService  one ServerBidiReactor per connected worker: Hello ->
//                  Welcome, Ready/Result give credits, the connection pulls
//                  tasks from the pool while it has credits; cancels from the
//                  pool are delivered to the connections that hold the tasks.
//   ComputeService Multiply (unary, answered when the job decodes or fails)
//                  and ClusterStatus.
//
// Thread-safe. Locks: WorkerService::mu_ only guards the registry (never held
// while calling into a connection); Conn::mu_ may be held while calling
// TaskPool; no gRPC call is made under either.
#ifndef CODEDGE_SERVER_SERVICES_H_
#define CODEDGE_SERVER_SERVICES_H_

#include <map>
#include <memory>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/codedge.grpc.pb.h"
#include "server/task_pool.h"

namespace codedge {

grpc::Status ToGrpc(const absl::Status& s);

struct WorkerServiceOptions {
  // Workers send a heartbeat this often (told in the Welcome)...
  absl::Duration heartbeat_interval = absl::Seconds(1);
  // ...and a worker silent for this long (no message at all: a hung or
  // frozen process, a dead link the kernel has not noticed) is dropped: its
  // tasks go to the others. Generous, because one large message on a slow
  // link counts only when it has fully arrived.
  absl::Duration silence_timeout = absl::Seconds(10);
};

class WorkerService final : public v1::Worker::CallbackService {
 public:
  explicit WorkerService(TaskPool* pool, WorkerServiceOptions options = {}) : pool_(pool), options_(options) {}

  grpc::ServerBidiReactor<v1::WorkerMessage, v1::ServerMessage>* Connect(grpc::CallbackServerContext* ctx) override;

  // New work may be runnable: every connection with credits pulls.
  void Kick();
  // Sends each cancel to the connection of its worker (if still connected).
  void Deliver(const std::vector<CancelOrder>& cancels);
  // Closes every connection (server shutdown).
  void CloseAll();
  // Drops every worker silent for longer than options.silence_timeout
  // (called by the server's sweeper).
  void DropSilent();

  struct WorkerInfo {
    WorkerId id;
    std::string name;
    int credits;
    int64_t results;
  };
  std::vector<WorkerInfo> Workers();

 private:
  class Conn;
  std::vector<std::shared_ptr<Conn>> Snapshot();

  TaskPool* const pool_;
  const WorkerServiceOptions options_;
  absl::Mutex mu_;
  WorkerId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<WorkerId, std::shared_ptr<Conn>> conns_ ABSL_GUARDED_BY(mu_);
};

class ComputeService final : public v1::Compute::CallbackService {
 public:
  ComputeService(TaskPool* pool, WorkerService* workers, Clock* clock = Clock::Real())
      : pool_(pool), workers_(workers), clock_(clock) {}

  grpc::ServerUnaryReactor* Multiply(grpc::CallbackServerContext* ctx, const v1::MultiplyRequest* req,
                                     v1::MultiplyResponse* resp) override;
  grpc::ServerUnaryReactor* ClusterStatus(grpc::CallbackServerContext* ctx, const v1::ClusterStatusRequest* req,
                                          v1::ClusterStatusResponse* resp) override;

 private:
  class MultiplyCall;
  TaskPool* const pool_;
  WorkerService* const workers_;
  Clock* const clock_;
};

}  // namespace codedge

#endif  // CODEDGE_SERVER_SERVICES_H_
