#include "server/cluster_engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace codedge {

int64_t AutoLtSymbolRows(int64_t rows) {
  return std::clamp<int64_t>((rows + kAutoLtSymbols - 1) / kAutoLtSymbols, 1, kMaxAutoLtSymbolRows);
}

absl::StatusOr<Matrix> ClusterEngine::Multiply(ConstMatrixRef a, ConstMatrixRef b, cnn::ProductKind kind) {
  if (a.cols() != b.rows()) {
    return absl::InvalidArgumentError(
        absl::StrCat("product shapes do not chain: ", a.rows(), "x", a.cols(), " . ", b.rows(), "x", b.cols()));
  }
  if (a.rows() * a.cols() * b.cols() < options_.min_remote_macs) {
    ++local_;
    return local_engine_.Multiply(a, b, kind);
  }
  ++remote_;
  CodeSpec spec = kind == cnn::ProductKind::kForward         ? options_.forward
                  : kind == cnn::ProductKind::kBackwardData ? options_.backward_data
                                                            : options_.backward_weights;
  if (spec.strategy == Strategy::kLt && spec.lt.symbol_rows == kAutoLtSymbolRows) {
    spec.lt.symbol_rows = AutoLtSymbolRows(a.rows());
  }
  // The pool's callback may run on another thread; the result outlives it.
  struct Shared {
    absl::Notification done;
    absl::StatusOr<JobResult> result;
  };
  auto shared = std::make_shared<Shared>();
  absl::StatusOr<JobId> id = pool_->Submit(
      Matrix(a), Matrix(b), spec,
      [shared](absl::StatusOr<JobResult> r) {
        shared->result = std::move(r);
        shared->done.Notify();
      },
      absl::Now() + options_.timeout);
  if (!id.ok()) return id.status();
  // The pool fails the job at its deadline; the extra second only covers the sweeper's period.
  if (!shared->done.WaitForNotificationWithTimeout(options_.timeout + absl::Seconds(1))) {
    (void)pool_->Cancel(*id, "no answer in time");
    return absl::DeadlineExceededError(absl::StrCat("product ", a.rows(), "x", a.cols(), " . ", b.rows(), "x",
                                                    b.cols(), " not done in ", absl::FormatDuration(options_.timeout)));
  }
  if (!shared->result.ok()) return shared->result.status();
  stats_ += shared->result->stats;
  return std::move(shared->result->product);
}

}  // namespace codedge
