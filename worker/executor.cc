#include "worker/executor.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace codedge {

absl::StatusOr<TaskExecutor> TaskExecutor::Create(ExecOptions options, Clock* clock) {
  if (!(options.slowdown >= 1.0) || !std::isfinite(options.slowdown)) {
    return absl::InvalidArgumentError(absl::StrCat("slowdown must be >= 1, got ", options.slowdown));
  }
  if (!(options.row_seconds >= 0) || !std::isfinite(options.row_seconds)) {
    return absl::InvalidArgumentError(absl::StrCat("row time must be >= 0 seconds, got ", options.row_seconds));
  }
  if (options.chunk_rows < 0) {
    return absl::InvalidArgumentError(absl::StrCat("chunk rows must be >= 0 (0 = automatic), got ", options.chunk_rows));
  }
  return TaskExecutor(options, clock);
}

absl::StatusOr<ExecResult> TaskExecutor::Run(ConstMatrixRef rows, const Matrix& b, absl::Duration delay,
                                             absl::Notification* cancel) const {
  if (rows.cols() != b.rows()) {
    return absl::InvalidArgumentError(absl::StrCat("task rows are ", rows.rows(), "x", rows.cols(), " but B is ",
                                                   b.rows(), "x", b.cols()));
  }
  auto cancelled = [&] { return cancel != nullptr && cancel->HasBeenNotified(); };
  ExecResult out;
  const absl::Time start = clock_->Now();
  if (delay > absl::ZeroDuration() && clock_->WaitUntil(start + delay, cancel)) {
    return absl::CancelledError("cancelled during the injected delay");
  }
  if (cancelled()) return absl::CancelledError("cancelled before compute");
  out.delay_seconds = absl::ToDoubleSeconds(clock_->Now() - start);
  out.product.resize(rows.rows(), b.cols());
  const absl::Time compute_start = clock_->Now();
  const int64_t chunk = options_.chunk_rows > 0
                            ? options_.chunk_rows
                            : std::max<int64_t>(1, ExecOptions::kChunkMacs / std::max<int64_t>(1, rows.cols() * b.cols()));
  for (int64_t r = 0; r < rows.rows(); r += chunk) {
    const int64_t n = std::min(chunk, rows.rows() - r);
    out.product.middleRows(r, n).noalias() = rows.middleRows(r, n) * b;
    if (cancelled()) return absl::CancelledError(absl::StrCat("cancelled after ", r + n, " of ", rows.rows(), " rows"));
  }
  const absl::Duration compute = clock_->Now() - compute_start;
  out.compute_seconds = absl::ToDoubleSeconds(compute);
  if (options_.slowdown > 1.0) {
    const absl::Time until = clock_->Now() + compute * (options_.slowdown - 1.0);
    if (clock_->WaitUntil(until, cancel)) return absl::CancelledError("cancelled during the slowdown wait");
  }
  if (options_.row_seconds > 0) {
    const absl::Time until = compute_start + absl::Seconds(options_.row_seconds * static_cast<double>(rows.rows()));
    if (clock_->WaitUntil(until, cancel)) return absl::CancelledError("cancelled during the emulated row time");
  }
  out.injected_seconds = absl::ToDoubleSeconds(clock_->Now() - start) - out.compute_seconds;
  return out;
}

}  // namespace codedge
