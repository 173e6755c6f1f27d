#include "server/cluster_engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status.h"

namespace codedge {

int64_t AutoLtSymbolRows(int64_t rows) {
  return std::clamp<int64_t>((rows + kAutoLtSymbols - 1) / kAutoLtSymbols, 1, kMaxAutoLtSymbolRows);
}

CodeSpec ClusterEngine::SpecFor(cnn::ProductKind kind, int64_t rows) const {
  CodeSpec spec = kind == cnn::ProductKind::kForward         ? options_.forward
                  : kind == cnn::ProductKind::kBackwardData ? options_.backward_data
                                                            : options_.backward_weights;
  if (spec.strategy == Strategy::kLt && spec.lt.symbol_rows == kAutoLtSymbolRows) {
    spec.lt.symbol_rows = AutoLtSymbolRows(rows);
  }
  return spec;
}

bool ClusterEngine::Convolutional(const CodeSpec& spec, const RowOp& op, int64_t a_cols, int64_t b_rows,
                                  int64_t b_cols) {
  if (spec.strategy == Strategy::kPrivate) return false;  // plain products only
  if (absl::Status s = CheckRowOp(op, a_cols, b_rows, b_cols); !s.ok()) {
    Log().debug("the convolution's product goes as plain rows: {}", std::string(s.message()));
    return false;
  }
  return true;
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
  return RunRemote(Matrix(a), Matrix(b), SpecFor(kind, a.rows()), RowOp());
}

absl::StatusOr<Matrix> ClusterEngine::MultiplyIm2col(ConstMatrixRef x, const ConvGeometry& g, ConstMatrixRef w) {
  RETURN_IF_ERROR(cnn::CheckIm2colOperands(x, g, w));
  const CodeSpec spec = SpecFor(cnn::ProductKind::kForward, g.n);
  RowOp op{RowOp::Kind::kIm2colProduct, g};
  op.conv.n = 1;
  if (g.n * g.out_h() * g.out_w() * g.patch() * w.cols() < options_.min_remote_macs ||
      !Convolutional(spec, op, x.cols() * g.h * g.w, w.rows(), w.cols())) {
    return MatmulEngine::MultiplyIm2col(x, g, w);  // im2col here, then Multiply (remote or local)
  }
  // NHWC: the batch's (N*H*W, C) pixels are, in memory, N rows of one
  // image each; the product's N rows of OH*OW*F values are (N*OH*OW, F).
  const int64_t pixels_out = g.out_h() * g.out_w();
  Matrix images(g.n, g.h * g.w * g.c);
  Eigen::Map<Matrix>(images.data(), x.rows(), x.cols()) = x;
  ASSIGN_OR_RETURN(Matrix z, RunRemote(std::move(images), Matrix(w), spec, op));
  return Matrix(Eigen::Map<const Matrix>(z.data(), g.n * pixels_out, w.cols()));
}

absl::StatusOr<Matrix> ClusterEngine::MultiplyCol2im(ConstMatrixRef dz, ConstMatrixRef wt, const ConvGeometry& g) {
  RETURN_IF_ERROR(cnn::CheckCol2imOperands(dz, wt, g));
  const CodeSpec spec = SpecFor(cnn::ProductKind::kBackwardData, g.n);
  RowOp op{RowOp::Kind::kProductCol2im, g};
  op.conv.n = 1;
  if (dz.rows() * dz.cols() * wt.cols() < options_.min_remote_macs ||
      !Convolutional(spec, op, g.out_h() * g.out_w() * dz.cols(), wt.rows(), wt.cols())) {
    return MatmulEngine::MultiplyCol2im(dz, wt, g);  // Multiply (remote or local), then Col2Im here
  }
  Matrix grads(g.n, g.out_h() * g.out_w() * dz.cols());
  Eigen::Map<Matrix>(grads.data(), dz.rows(), dz.cols()) = dz;
  ASSIGN_OR_RETURN(Matrix dx, RunRemote(std::move(grads), Matrix(wt), spec, op));
  return Matrix(Eigen::Map<const Matrix>(dx.data(), g.n * g.h * g.w, g.c));
}

absl::StatusOr<Matrix> ClusterEngine::MultiplyIm2colTransposed(ConstMatrixRef x, const ConvGeometry& g,
                                                               ConstMatrixRef dz) {
  RETURN_IF_ERROR(cnn::CheckWeightGradientOperands(x, g, dz));
  const CodeSpec spec = SpecFor(cnn::ProductKind::kBackwardWeights, g.c);
  RowOp op{RowOp::Kind::kIm2colTransposedProduct, g};
  op.conv.c = 1;  // a row is one channel of the g.n images
  if (g.c < kMinChannelRows || dz.rows() * g.patch() * dz.cols() < options_.min_remote_macs ||
      !Convolutional(spec, op, g.n * g.h * g.w, dz.rows(), dz.cols())) {
    return MatmulEngine::MultiplyIm2colTransposed(x, g, dz);  // im2col here, then MultiplyTransposedA
  }
  // Row c of the product: channel c's KH*KW x F block of the gradient,
  // whose rows are the gradient's rows (offset, c) for every kernel offset.
  ASSIGN_OR_RETURN(Matrix d, RunRemote(x.transpose(), Matrix(dz), spec, op));
  const int64_t offsets = g.kh * g.kw, f = dz.cols();
  Matrix dw(g.patch(), f);
  for (int64_t c = 0; c < g.c; ++c) {
    for (int64_t i = 0; i < offsets; ++i) dw.row(i * g.c + c) = d.row(c).segment(i * f, f);
  }
  return dw;
}

absl::StatusOr<Matrix> ClusterEngine::RunRemote(Matrix a, Matrix b, const CodeSpec& spec, const RowOp& op) {
  ++remote_;
  if (!op.plain()) ++conv_;
  const std::string what = absl::StrCat(a.rows(), "x", a.cols(), " . ", b.rows(), "x", b.cols());
  // The pool's callback may run on another thread; the result outlives it.
  struct Shared {
    absl::Notification done;
    absl::StatusOr<JobResult> result;
  };
  auto shared = std::make_shared<Shared>();
  absl::StatusOr<JobId> id = pool_->Submit(
      std::move(a), std::move(b), spec,
      [shared](absl::StatusOr<JobResult> r) {
        shared->result = std::move(r);
        shared->done.Notify();
      },
      absl::Now() + options_.timeout, op);
  if (!id.ok()) return id.status();
  // The pool fails the job at its deadline; the extra second only covers the sweeper's period.
  if (!shared->done.WaitForNotificationWithTimeout(options_.timeout + absl::Seconds(1))) {
    (void)pool_->Cancel(*id, "no answer in time");
    return absl::DeadlineExceededError(
        absl::StrCat("product ", what, " not done in ", absl::FormatDuration(options_.timeout)));
  }
  if (!shared->result.ok()) return shared->result.status();
  stats_ += shared->result->stats;
  return std::move(shared->result->product);
}

}  // namespace codedge
