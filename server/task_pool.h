// The task pool and result pool of the edge server (paper, sec. 3.5; DESIGN.md
// data flow): jobs are products A·B coded by a Code; workers *pull* tasks
// when they have a free slot, so fast workers do more; results are decoded
// incrementally; when a job is decodable it is decoded, its outstanding tasks
// are cancelled, and its callback receives A·B and the job's statistics.
//
// No transport here: the gRPC service (or a test) calls NextTask / OnResult /
// OnWorkerLost / Expire and delivers the returned cancels. Thread-safe: every
// method may be called from any thread; none blocks on I/O, and encoding and
// decoding run outside the pool's lock. Callbacks run on the calling thread,
// outside the lock.
#ifndef CODEDGE_SERVER_TASK_POOL_H_
#define CODEDGE_SERVER_TASK_POOL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "codes/code.h"
#include "codes/factory.h"
#include "codes/private_code.h"
#include "common/clock.h"
#include "common/matrix.h"
#include "common/row_op.h"

namespace codedge {

using JobId = uint64_t;
using WorkerId = uint64_t;

struct JobStats {
  double encode_seconds = 0;   // summed over tasks
  double queue_seconds = 0;    // submit -> first task handed to a worker
  double compute_seconds = 0;  // worker-reported compute of accepted results, summed
  double decode_seconds = 0;   // Add + Decode, summed
  double total_seconds = 0;    // submit -> done
  int64_t tasks_sent = 0, tasks_returned = 0, tasks_cancelled = 0, tasks_wasted = 0;
  int64_t rows_wasted = 0;     // rows of returned-but-unneeded results
  int64_t tasks_rejected = 0;  // results that failed verification (SetVerifyResults)
  double verify_seconds = 0;   // Freivalds checks, summed
  std::map<WorkerId, int64_t> tasks_per_worker;  // results accepted, per worker
  std::map<WorkerId, int64_t> rows_per_worker;

  // Sums another job's statistics into these (e.g. over a training step).
  JobStats& operator+=(const JobStats& o);
};

struct JobResult {
  Matrix product;
  JobStats stats;
};

using JobCallback = std::function<void(absl::StatusOr<JobResult>)>;

// A task handed to a worker. `b` is set only the first time this worker gets
// a task of this job (B travels once per worker per job).
struct Assignment {
  JobId job = 0;
  int64_t task = 0;
  // The task's coded rows: rows x cols floats at `data`, row-major, kept
  // alive by `owner` (an encoded matrix, or the job itself when the task is a
  // plain block of A: uncoded, replicated and systematic tasks are sent
  // straight from A, never copied first).
  std::shared_ptr<const void> owner;
  const float* data = nullptr;
  // A T-private task instead: rows x cols field elements (data is null).
  const uint64_t* field_data = nullptr;
  int64_t rows = 0, cols = 0;
  std::shared_ptr<const Matrix> b;
  RowOp op;  // what the worker computes from the rows and B (travels with B)

  bool field() const { return field_data != nullptr; }
  Eigen::Map<const Matrix> coded_rows() const { return Eigen::Map<const Matrix>(data, rows, cols); }
  Eigen::Map<const FieldMatrix> field_rows() const { return Eigen::Map<const FieldMatrix>(field_data, rows, cols); }
};

// Tell `worker` to stop `task` of `job`. task < 0: the job is over, stop all
// of its tasks and drop its B.
struct CancelOrder {
  WorkerId worker = 0;
  JobId job = 0;
  int64_t task = -1;
};

class TaskPool {
 public:
  explicit TaskPool(Clock* clock = Clock::Real()) : clock_(clock) {}

  // Limits on one job, so that no request can make the server allocate
  // without bound: coded tasks (fixed-rate codes) and rows per task.
  static constexpr int64_t kMaxTasks = int64_t{1} << 20;

  // Called (outside the lock) whenever new work becomes runnable: a job was
  // submitted. The gRPC layer sets it to wake idle workers; the in-process
  // trainer gets that for free.
  void SetWorkHook(std::function<void()> hook);

  // Delivers cancels (the gRPC layer sends them to the workers). When set,
  // every method below that returns cancels has already passed them to this
  // hook *before* running any job callback: a callback that submits the
  // next job (the trainer does) cannot queue that job's tasks ahead of the
  // cancels on a worker's stream. Without a hook the caller delivers them.
  void SetCancelHook(std::function<void(const std::vector<CancelOrder>&)> hook);

  // Checks every result against its task's rows and B (Freivalds,
  // codes/verify.h) before decoding it. A worker whose result fails is
  // marked faulty: the result is dropped (its task re-issued to others where
  // the code needs it), OnResult returns PermissionDenied, and the worker
  // gets no more tasks. Costs two memory-bound passes over each result's
  // task rows (codes/verify.h); encoded task blocks are kept until their
  // result arrives.
  void SetVerifyResults(bool on, uint64_t seed = 1);
  bool IsFaulty(WorkerId worker) const;
  // The worker's measured speed in multiply-adds per second (0: no result
  // yet); a field multiply-add counts as kFieldMacCost float ones.
  double MacsPerSecond(WorkerId worker) const;

  // Refuses new jobs from now on (Unavailable); used before FailAll at shutdown.
  void Close();

  // Queues A·B under `spec`. Strategy kSpeculative: uncoded, and once every
  // task is out, an idle worker gets a copy of the oldest outstanding task;
  // the first result wins, the other copy is cancelled. Strategy kPrivate
  // (codes/private_code.h): A and B are quantized to fixed point, A's n
  // field-element tasks are encoded (with fresh random masks) at submission,
  // workers get B as small integers and field tasks, return field results
  // (OnFieldResult), and any k + t of them decode; the product carries the
  // quantization error only. No worker is ever handed more than t tasks of
  // a private job (t shares reveal nothing; t + 1 would), so such a job
  // needs at least ceil((k + t) / t) workers; with fewer it waits and
  // fails at its deadline, saying so. The job fails with DeadlineExceeded at
  // `deadline` (see Expire). InvalidArgument for bad shapes or parameters.
  //
  // `op` (common/row_op.h): what a worker computes from a task's rows and
  // B; by default rows . B. With a convolution op every row of A is one
  // image, one image's output gradient or one channel of a batch, and the
  // product has op.OutCols(B's columns) columns; not for kPrivate
  // (InvalidArgument).
  absl::StatusOr<JobId> Submit(Matrix a, Matrix b, const CodeSpec& spec, JobCallback done,
                               absl::Time deadline = absl::InfiniteFuture(), const RowOp& op = RowOp());

  // The next task for `worker`, or nullopt if nothing is runnable. Jobs are
  // served oldest first.
  std::optional<Assignment> NextTask(WorkerId worker);

  // A worker's result. Returns the cancels to deliver (non-empty when this
  // result finished its job). NotFound for a job that is unknown or already
  // finished (a late result: the caller drops it), FailedPrecondition for a
  // task this worker does not hold, InvalidArgument for a bad result (wrong
  // shape, NaN): the task is then re-queued where the code allows;
  // PermissionDenied for a result that failed verification (see
  // SetVerifyResults) and for any later result of that worker (not checked,
  // not counted; the task is re-queued where the code allows).
  // `compute_seconds` is the worker's own measure of the product (stats).
  // `delay_seconds`: the straggler delay the worker waited before the task
  // (excluded from its speed estimate).
  absl::StatusOr<std::vector<CancelOrder>> OnResult(WorkerId worker, JobId job, int64_t task, Matrix result,
                                                    double compute_seconds = 0, double delay_seconds = 0);
  // The same for a T-private job's result (field elements, each < p); a
  // float result for such a job, or a field result for a float job, is
  // InvalidArgument. With SetVerifyResults, checked exactly in F_p.
  absl::StatusOr<std::vector<CancelOrder>> OnFieldResult(WorkerId worker, JobId job, int64_t task, FieldMatrix result,
                                                         double compute_seconds = 0, double delay_seconds = 0);

  // Does `worker` hold `task` of `job` (handed out, no result, not
  // cancelled)? The gRPC layer asks before it queues a task it has just
  // picked: one cancelled meanwhile is not sent (its cancel went first).
  bool Holds(WorkerId worker, JobId job, int64_t task) const;
  // The task picked for `worker` went out without the job's B (it was not
  // sent at all: Holds said no): B goes with its next task of the job.
  void ForgetB(WorkerId worker, JobId job);

  // The worker could not compute `task` (or sent a malformed result): the
  // task goes back to the queue (fixed-rate codes) for someone else. NotFound
  // for an unknown/finished job, FailedPrecondition for a task it does not hold.
  absl::Status OnTaskFailed(WorkerId worker, JobId job, int64_t task);

  // The worker is gone: its outstanding tasks are re-queued (fixed-rate codes)
  // or simply abandoned (rateless codes generate others).
  void OnWorkerLost(WorkerId worker);

  // Fails job `id` with Cancelled (its client gave up) and cancels its tasks.
  // NotFound if it is unknown or already finished.
  absl::Status Cancel(JobId id, absl::string_view why);

  // Fails every job whose deadline has passed; returns the cancels to send.
  std::vector<CancelOrder> Expire();
  // Fails every job in flight with `status` (server shutdown).
  std::vector<CancelOrder> FailAll(const absl::Status& status);

  int64_t jobs_in_flight() const;

 private:
  struct Outstanding {
    WorkerId worker;
    bool speculative_copy;
    absl::Time sent;  // handed out (for the worker's speed estimate)
  };
  // The T-private strategy's state: its code, the encoded tasks and the
  // field results so far.
  struct PrivateJob {
    PrivateCode code;
    // The quantization: scales and B_q (as the workers get it); A_q is
    // dropped once encoded.
    Quantized q;
    std::vector<std::shared_ptr<const FieldMatrix>> blocks;  // task i's rows
    std::vector<int64_t> ids;                                // accepted results, in arrival order
    std::vector<FieldMatrix> results;
    // Tasks each worker was ever handed (privacy: at most T per worker, or
    // one worker alone would hold more than T shares of A).
    absl::flat_hash_map<WorkerId, int64_t> handed;
  };
  struct Job {
    JobId id;
    std::unique_ptr<Code> code;          // null for a private job
    std::unique_ptr<PrivateJob> priv;    // set for a private job
    Matrix a;
    std::shared_ptr<const Matrix> b;
    RowOp op;
    int64_t out_cols = 0;                 // the product's columns: op.OutCols(b->cols())
    std::unique_ptr<Decoder> decoder;
    JobCallback done;
    absl::Time submitted, deadline;
    bool speculative = false;
    bool finished = false;
    bool started = false;                 // a first task was handed out
    std::vector<int64_t> queue;           // tasks to (re-)issue, front = next
    size_t queue_head = 0;
    int64_t next_new_task = 0;            // rateless: next id to generate
    double task_seconds = 0;              // rateless: size tasks to take this long per worker (0: fixed)
    double macs_per_row = 1;              // a result row's work (op.MacsPerRow; x 4 in the field)
    int64_t next_symbol = 0;              // sized rateless tasks: first symbol of the next one
    absl::flat_hash_map<int64_t, std::pair<int64_t, int64_t>> ranges;  // sized task -> (first symbol, count)
    absl::flat_hash_map<WorkerId, int> rateless_handed;  // sized tasks handed to each worker
    std::multimap<int64_t, Outstanding> outstanding;  // task -> holders
    absl::flat_hash_set<int64_t> returned;            // tasks with an accepted result
    // Copies cancelled because another copy's result came first (task,
    // worker): their results may still arrive, and count as wasted.
    absl::flat_hash_set<std::pair<int64_t, WorkerId>> cancelled_copies;
    absl::flat_hash_set<WorkerId> has_b;
    // Specs of handed-out tasks, generated once for encoding and reused by
    // the decoder (LT symbols are not regenerated per result).
    absl::flat_hash_map<int64_t, std::shared_ptr<const TaskSpec>> specs;
    // With verification: the encoded blocks of tasks awaiting a result
    // (plain blocks are read from A).
    absl::flat_hash_map<int64_t, std::shared_ptr<const Matrix>> coded_blocks;
    JobStats stats;
    // The decoder is not thread-safe; results of one job are decoded, then
    // accounted (mu_ taken inside), one at a time under decode_mu. Lock
    // order: decode_mu before mu_, never the other way.
    absl::Mutex decode_mu;
    bool decoded ABSL_GUARDED_BY(decode_mu) = false;
  };

  // Fixed-rate task count (nullopt: rateless) and a name for logs.
  static std::optional<int64_t> NumTasks(const Job& job);
  static std::string CodeName(const Job& job);
  absl::StatusOr<std::shared_ptr<Job>> NewPrivateJob(const Matrix& a, const Matrix& b, const CodeSpec& spec);
  // OnResult and OnFieldResult: exactly one of the results is set.
  absl::StatusOr<std::vector<CancelOrder>> AcceptResult(WorkerId worker, JobId job, int64_t task, Matrix* result,
                                                        FieldMatrix* field_result, double compute_seconds,
                                                        double delay_seconds);
  // Picks a task id for `worker` from `job` (mu_ held); nullopt if none.
  std::optional<std::pair<int64_t, bool>> PickTask(Job& job, WorkerId worker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<CancelOrder> CancelAll(Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Both with mu_ held. Removes `worker`'s hold on `task` (false: it held
  // none); re-queues a fixed-rate task unless it is returned or still out.
  static bool Release(Job& job, int64_t task, WorkerId worker);
  static void Requeue(Job& job, int64_t task);
  // A rateless task nobody holds is never issued again: drop its spec and
  // kept block (mu_ held).
  static void ForgetIfRateless(Job& job, int64_t task);
  // Fails the jobs `doomed` selects with the status it returns (non-OK).
  std::vector<CancelOrder> FailIf(const std::function<absl::Status(const Job&, absl::Time)>& doomed);

  Clock* const clock_;
  mutable absl::Mutex mu_;
  std::function<void()> work_hook_ ABSL_GUARDED_BY(mu_);
  std::function<void(const std::vector<CancelOrder>&)> cancel_hook_ ABSL_GUARDED_BY(mu_);
  // Passes `cancels` to the cancel hook, if any (mu_ not held).
  void DeliverCancels(const std::vector<CancelOrder>& cancels) ABSL_LOCKS_EXCLUDED(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool verify_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t verify_seed_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t verify_count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_set<WorkerId> faulty_ ABSL_GUARDED_BY(mu_);
  JobId next_job_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<JobId, std::shared_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);  // ordered: oldest first
  // Each worker's speed (multiply-adds of results per second of the task's
  // round trip: encode, transfer, queueing and compute, the worker's
  // straggler delay excluded; a moving average over its results, across
  // jobs), for sizing rateless tasks: a task then takes about task_seconds
  // end to end. Multiply-adds, not rows: the products of one training step
  // differ 100-fold in work per row, and a rate in rows measured on one
  // sized the next one's tasks 100-fold wrong.
  absl::flat_hash_map<WorkerId, double> macs_per_second_ ABSL_GUARDED_BY(mu_);
};

}  // namespace codedge

#endif  // CODEDGE_SERVER_TASK_POOL_H_
