// Runs one task on a worker: (coded rows of A) . B, with the injected
// straggler behaviour, interruptible by a cancel within one row chunk.
//
//   wait(delay) -> compute in row chunks -> wait((F-1) x compute)
//               -> wait until rows x row_seconds have passed since compute began
//
// Every wait is Clock::WaitUntil on the task's cancel notification, never a
// sleep, so a cancel stops a task within one chunk's compute time.
// Thread-safe: Run may be called from several threads at once (the sampler is
// consulted by the caller, not here).
#ifndef CODEDGE_WORKER_EXECUTOR_H_
#define CODEDGE_WORKER_EXECUTOR_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/matrix.h"
#include "common/row_op.h"

namespace codedge {

struct ExecOptions {
  double slowdown = 1.0;     // compute takes this many times longer (>= 1)
  // Cancel granularity: rows per chunk; 0 = automatic, about kChunkMacs
  // multiply-adds per chunk (~0.5 ms on this machine's core, ~1-2 ms on a
  // Raspberry Pi 4), whatever the shapes.
  int64_t chunk_rows = 0;
  static constexpr int64_t kChunkMacs = int64_t{1} << 21;
  // Emulated device speed: a task of r rows takes at least r x row_seconds
  // (the compute, then an interruptible wait for the rest). 0: off.
  double row_seconds = 0;
};

struct ExecResult {
  Matrix product;
  FieldMatrix field_product;  // RunField's result (product is then empty)
  double compute_seconds = 0;   // the product itself
  double injected_seconds = 0;  // delay + slowdown and row-time waits
  double delay_seconds = 0;     // the delay before the task alone
  // The device's time for the task: compute plus the emulated slowness
  // (slowdown, row time), the delay excluded.
  double busy_seconds() const { return compute_seconds + injected_seconds - delay_seconds; }
};

class TaskExecutor {
 public:
  // InvalidArgument for slowdown < 1, chunk_rows < 0 or row_seconds < 0.
  static absl::StatusOr<TaskExecutor> Create(ExecOptions options, Clock* clock = Clock::Real());

  // op(rows, B) (common/row_op.h; by default rows . B) after waiting
  // `delay`. Cancelled if `cancel` (may be null) is notified first;
  // InvalidArgument if the shapes do not fit the op.
  absl::StatusOr<ExecResult> Run(ConstMatrixRef rows, const Matrix& b, absl::Duration delay,
                                 absl::Notification* cancel, const RowOp& op = RowOp()) const;
  // The same, the product written into `out` (rows.rows() x
  // op.OutCols(b.cols()), else InvalidArgument) instead of
  // ExecResult::product: the worker computes straight into the bytes of the
  // message that carries the result.
  absl::StatusOr<ExecResult> RunInto(ConstMatrixRef rows, const Matrix& b, absl::Duration delay,
                                     absl::Notification* cancel, Eigen::Map<Matrix> out,
                                     const RowOp& op = RowOp()) const;
  // A T-private task: rows (field elements) . B mod p (common/field.h), B
  // given as float32 integers; the same delays, slowdown and cancellation.
  // InvalidArgument if the shapes do not chain or B holds non-integers.
  absl::StatusOr<ExecResult> RunField(Eigen::Map<const FieldMatrix> rows, const Matrix& b, absl::Duration delay,
                                      absl::Notification* cancel) const;

 private:
  // RunInto's work once the shapes are checked.
  absl::StatusOr<ExecResult> Compute(ConstMatrixRef rows, const Matrix& b, absl::Duration delay,
                                     absl::Notification* cancel, Eigen::Map<Matrix> product, const RowOp& op) const;
  // The delay, then `compute(first_row, count)` over row chunks of about
  // kChunkMacs (`macs_per_row` each, but at least `min_chunk` rows; at most
  // `max_chunk` rows, whatever chunk_rows says), then the emulated slowness.
  absl::Status Execute(int64_t rows, int64_t macs_per_row, absl::Duration delay, absl::Notification* cancel,
                       const std::function<void(int64_t, int64_t)>& compute_rows, ExecResult* out,
                       int64_t max_chunk = INT64_MAX, int64_t min_chunk = 1) const;
  TaskExecutor(ExecOptions options, Clock* clock) : options_(options), clock_(clock) {}
  ExecOptions options_;
  Clock* clock_;
};

}  // namespace codedge

#endif  // CODEDGE_WORKER_EXECUTOR_H_
