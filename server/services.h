// The gRPC edge of the server: thin reactors that call TaskPool.
//
//   WorkerService  one ServerBidiReactor per connected worker: Hello ->
//                  Welcome, Ready/Result give credits, the connection pulls
//                  tasks from the pool while it has credits; cancels from the
//                  pool are delivered to the connections that hold the tasks.
//                  A generic (byte-buffer) service serving Worker.Connect:
//                  a task's block goes on the wire straight from the job's
//                  memory behind a hand-made header (TaskMessageHeader),
//                  never copied into a message and serialised again.
//   ComputeService Multiply (unary, answered when the job decodes or fails)
//                  and ClusterStatus.
//
// Thread-safe. Nothing that can take long runs in a gRPC reaction: pulling
// tasks (which encodes rateless ones) and accepting results (which decodes)
// run on the WorkerService's work threads, a stream's results and its end in
// the order they arrived. Locks: WorkerService::mu_ only guards the registry
// (never held while calling into a connection); Conn::mu_ guards a stream's
// state and is held only briefly (never while encoding, decoding or
// serialising); Conn::pump_mu_ serialises a stream's task pulls. No gRPC
// call is made under the registry lock or mu_.
#ifndef CODEDGE_SERVER_SERVICES_H_
#define CODEDGE_SERVER_SERVICES_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/work_queue.h"
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
  // Task blocks larger than this travel in pieces of about this size (whole
  // rows), so the worker unpacks one piece while the next is on the wire.
  int64_t task_piece_bytes = int64_t{4} << 20;
};

// Register with ServerBuilder::RegisterCallbackGenericService: it answers
// /codedge.v1.Worker/Connect (the proto's service, same messages) and
// UNIMPLEMENTED for any other method no typed service claims.
class WorkerService final : public grpc::CallbackGenericService {
 public:
  // Workers must present `token` (empty: none needed; proto/credentials.h).
  explicit WorkerService(TaskPool* pool, WorkerServiceOptions options = {}, std::string token = "")
      : pool_(pool), options_(options), token_(std::move(token)) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

  // New work may be runnable: every connection with credits pulls (on a
  // work thread; Kick itself returns at once).
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
    absl::Time last_seen;
    bool draining;
  };
  // The connected workers that have said Hello.
  std::vector<WorkerInfo> Workers();

 private:
  class Conn;
  std::vector<std::shared_ptr<Conn>> Snapshot();
  void PumpRound();  // on a work thread

  TaskPool* const pool_;
  const WorkerServiceOptions options_;
  const std::string token_;
  absl::Mutex mu_;
  WorkerId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<WorkerId, std::shared_ptr<Conn>> conns_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> kick_pending_{false};
  // Encoding and decoding for every stream (two: this host's cores, and a
  // decode of one job overlaps the next job's encoding).
  static constexpr int kWorkThreads = 2;
  WorkQueue work_{kWorkThreads};  // last member: drained and joined first
};

class ComputeService final : public v1::Compute::CallbackService {
 public:
  // Calls must carry `token` (empty: none needed). One client (host) may
  // have at most `max_jobs_per_client` Multiply calls in flight; more get
  // RESOURCE_EXHAUSTED.
  ComputeService(TaskPool* pool, WorkerService* workers, std::string token = "", int max_jobs_per_client = 64,
                 Clock* clock = Clock::Real());
  // Admits what is still queued (a closed pool refuses it: every call is
  // answered), then joins the admission threads.
  ~ComputeService();

  grpc::ServerUnaryReactor* Multiply(grpc::CallbackServerContext* ctx, const v1::MultiplyRequest* req,
                                     v1::MultiplyResponse* resp) override;
  grpc::ServerUnaryReactor* ClusterStatus(grpc::CallbackServerContext* ctx, const v1::ClusterStatusRequest* req,
                                          v1::ClusterStatusResponse* resp) override;

 private:
  class MultiplyCall;
  // Admission (decoding the request's matrices and TaskPool::Submit, which
  // encodes a T-private job on the spot: 0.6 s for 10000x1000 here) runs on these
  // threads, not in the gRPC reaction that received the call: a reaction must
  // not block (heartbeats and results of every worker share those threads).
  static constexpr int kAdmissionThreads = 2;
  TaskPool* const pool_;
  WorkerService* const workers_;
  const std::string token_;
  const int max_jobs_per_client_;
  Clock* const clock_;
  absl::Mutex clients_mu_;
  std::map<std::string, int> jobs_per_client_ ABSL_GUARDED_BY(clients_mu_);
  WorkQueue admission_{kAdmissionThreads};  // last member: joined first
};

}  // namespace codedge

#endif  // CODEDGE_SERVER_SERVICES_H_
