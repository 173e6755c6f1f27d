#include "worker/executor.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/field.h"

namespace codedge {

absl::StatusOr<TaskExecutor> TaskExecutor::Create(ExecOptions options, Clock* clock) {
  if (!(options.slowdown >= 1.0) || !std::isfinite(options.slowdown)) {
    return absl::InvalidArgumentError(absl::StrCat("--slowdown must be >= 1, got ", options.slowdown));
  }
  if (!(options.row_seconds >= 0) || !std::isfinite(options.row_seconds)) {
    return absl::InvalidArgumentError(absl::StrCat("--row_time must be >= 0 seconds, got ", options.row_seconds));
  }
  if (options.chunk_rows < 0) {
    return absl::InvalidArgumentError(absl::StrCat("chunk rows must be >= 0 (0 = automatic), got ", options.chunk_rows));
  }
  return TaskExecutor(options, clock);
}

namespace {

// The task's rows and B fit `op` (InvalidArgument naming the task if not).
absl::Status CheckTask(ConstMatrixRef rows, const Matrix& b, const RowOp& op) {
  absl::Status s = CheckRowOp(op, rows.cols(), b.rows(), b.cols());
  if (s.ok()) return s;
  return absl::InvalidArgumentError(absl::StrCat("task rows are ", rows.rows(), "x", rows.cols(), ": ", s.message()));
}

}  // namespace

absl::StatusOr<ExecResult> TaskExecutor::Run(ConstMatrixRef rows, const Matrix& b, absl::Duration delay,
                                             absl::Notification* cancel, const RowOp& op) const {
  if (absl::Status s = CheckTask(rows, b, op); !s.ok()) return s;  // before sizing the product
  Matrix product(rows.rows(), op.OutCols(b.cols()));
  absl::StatusOr<ExecResult> out =
      Compute(rows, b, delay, cancel, Eigen::Map<Matrix>(product.data(), product.rows(), product.cols()), op);
  if (out.ok()) out->product = std::move(product);
  return out;
}

absl::StatusOr<ExecResult> TaskExecutor::RunInto(ConstMatrixRef rows, const Matrix& b, absl::Duration delay,
                                                 absl::Notification* cancel, Eigen::Map<Matrix> product,
                                                 const RowOp& op) const {
  if (absl::Status s = CheckTask(rows, b, op); !s.ok()) return s;
  const int64_t out_cols = op.OutCols(b.cols());
  if (product.rows() != rows.rows() || product.cols() != out_cols) {
    return absl::InvalidArgumentError(absl::StrCat("a ", product.rows(), "x", product.cols(), " output for a ",
                                                   rows.rows(), "x", out_cols, " result"));
  }
  return Compute(rows, b, delay, cancel, product, op);
}

absl::StatusOr<ExecResult> TaskExecutor::Compute(ConstMatrixRef rows, const Matrix& b, absl::Duration delay,
                                                 absl::Notification* cancel, Eigen::Map<Matrix> product,
                                                 const RowOp& op) const {
  const int64_t out_cols = product.cols();
  ExecResult out;
  Matrix scratch;  // a convolution's im2col rows, one chunk at a time: at most kMaxRowOpValues
  const int64_t scratch_per_row = op.ScratchPerRow();
  absl::Status s = Execute(
      rows.rows(), op.MacsPerRow(rows.cols(), b.cols()), delay, cancel,
      [&](int64_t r, int64_t n) {
        ApplyRowOp(op, rows.middleRows(r, n), b, Eigen::Map<Matrix>(product.row(r).data(), n, out_cols), scratch);
      },
      &out, scratch_per_row > 0 ? std::max<int64_t>(1, kMaxRowOpValues / scratch_per_row) : INT64_MAX,
      op.MinChunkRows());
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<ExecResult> TaskExecutor::RunField(Eigen::Map<const FieldMatrix> rows, const Matrix& b,
                                                  absl::Duration delay, absl::Notification* cancel) const {
  if (rows.cols() != b.rows()) {
    return absl::InvalidArgumentError(absl::StrCat("task rows are ", rows.rows(), "x", rows.cols(), " but B is ",
                                                   b.rows(), "x", b.cols()));
  }
  absl::StatusOr<QuantMatrix> b_int = IntegersFromFloat(b);
  if (!b_int.ok()) return b_int.status();
  const FieldOperand op = PrepareFieldOperand(*std::move(b_int));  // once per task, not per chunk
  ExecResult out;
  out.field_product.resize(rows.rows(), b.cols());
  // Chunks of about the same time as float ones (kFieldMacCost).
  absl::Status s = Execute(
      rows.rows(), kFieldMacCost * rows.cols() * b.cols(), delay, cancel,
      [&](int64_t r, int64_t n) { out.field_product.middleRows(r, n) = FieldProduct(rows.middleRows(r, n), op); },
      &out);
  if (!s.ok()) return s;
  return out;
}

absl::Status TaskExecutor::Execute(int64_t num_rows, int64_t macs_per_row, absl::Duration delay,
                                   absl::Notification* cancel, const std::function<void(int64_t, int64_t)>& compute_rows,
                                   ExecResult* result, int64_t max_chunk, int64_t min_chunk) const {
  ExecResult& out = *result;
  auto cancelled = [&] { return cancel != nullptr && cancel->HasBeenNotified(); };
  const absl::Time start = clock_->Now();
  if (delay > absl::ZeroDuration() && clock_->WaitUntil(start + delay, cancel)) {
    return absl::CancelledError("cancelled during the injected delay");
  }
  if (cancelled()) return absl::CancelledError("cancelled before compute");
  out.delay_seconds = absl::ToDoubleSeconds(clock_->Now() - start);
  const absl::Time compute_start = clock_->Now();
  const int64_t chunk = std::min(
      max_chunk, options_.chunk_rows > 0
                     ? options_.chunk_rows
                     : std::max<int64_t>(
                           // min_chunk rows, but never more than kMaxRowOpMacs of work between two looks at
                           // the cancel
                           std::clamp<int64_t>(kMaxRowOpMacs / std::max<int64_t>(1, macs_per_row), 1, min_chunk),
                           ExecOptions::kChunkMacs / std::max<int64_t>(1, macs_per_row)));
  for (int64_t r = 0; r < num_rows; r += chunk) {
    const int64_t n = std::min(chunk, num_rows - r);
    compute_rows(r, n);
    if (cancelled()) return absl::CancelledError(absl::StrCat("cancelled after ", r + n, " of ", num_rows, " rows"));
  }
  const absl::Duration compute = clock_->Now() - compute_start;
  out.compute_seconds = absl::ToDoubleSeconds(compute);
  if (options_.slowdown > 1.0) {
    const absl::Time until = clock_->Now() + compute * (options_.slowdown - 1.0);
    if (clock_->WaitUntil(until, cancel)) return absl::CancelledError("cancelled during the slowdown wait");
  }
  if (options_.row_seconds > 0) {
    const absl::Time until = compute_start + absl::Seconds(options_.row_seconds * static_cast<double>(num_rows));
    if (clock_->WaitUntil(until, cancel)) return absl::CancelledError("cancelled during the emulated row time");
  }
  out.injected_seconds = absl::ToDoubleSeconds(clock_->Now() - start) - out.compute_seconds;
  return absl::OkStatus();
}

}  // namespace codedge
