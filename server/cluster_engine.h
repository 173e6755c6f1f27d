// The CNN's products on the edge cluster: a cnn::MatmulEngine that submits
// each product to the server's own TaskPool (no loopback RPC) under the
// strategy chosen for its kind, and waits for the decoded result. Products
// smaller than `min_remote_macs` multiply-adds run locally: shipping a
// 50x128 . 128x10 product costs more than computing it.
#ifndef CODEDGE_SERVER_CLUSTER_ENGINE_H_
#define CODEDGE_SERVER_CLUSTER_ENGINE_H_

#include <cstdint>

#include "absl/time/time.h"
#include "cnn/engine.h"
#include "codes/factory.h"
#include "server/task_pool.h"

namespace codedge {

// LT rows per source symbol chosen per product (CodeSpec::lt.symbol_rows ==
// kAutoLtSymbolRows, training's default): about kAutoLtSymbols symbols, at
// most kMaxAutoLtSymbolRows rows each. One fixed size fits the products of a
// training step badly: 64 rows per symbol keeps the convolutions' forward
// products at k <= ~600 (at row granularity the first one would have
// k = 39 200, whose real-valued decode costs more than the product), but
// leaves a weight gradient A^T.dZ (A^T 9-288 rows, 9 800-39 200 deep) or a
// fully connected product (50 rows) with k = 1-5 symbols: its work can then
// be split over at most that many tasks' worth of symbols.
inline constexpr int64_t kAutoLtSymbolRows = 0;
inline constexpr int64_t kAutoLtSymbols = 100;
inline constexpr int64_t kMaxAutoLtSymbolRows = 64;
int64_t AutoLtSymbolRows(int64_t rows);

struct ClusterEngineOptions {
  CodeSpec forward, backward_data, backward_weights;
  int64_t min_remote_macs = int64_t{1} << 20;
  absl::Duration timeout = absl::Minutes(5);  // per product
};

class ClusterEngine final : public cnn::MatmulEngine {
 public:
  ClusterEngine(TaskPool* pool, ClusterEngineOptions options) : pool_(pool), options_(options) {}
  absl::StatusOr<Matrix> Multiply(ConstMatrixRef a, ConstMatrixRef b, cnn::ProductKind kind) override;
  // A convolution's products as RowOp jobs (common/row_op.h): the workers
  // get coded whole images (forward) and return coded col2im'd gradients
  // (backward), not im2col rows -- 9x fewer bytes each way for a 3x3
  // kernel. The images are the source rows (LT: one image per symbol).
  // The private strategy, small products and shapes beyond the row
  // operations' bounds (CheckRowOp) take the plain way.
  absl::StatusOr<Matrix> MultiplyIm2col(ConstMatrixRef x, const ConvGeometry& g, ConstMatrixRef w) override;
  absl::StatusOr<Matrix> MultiplyCol2im(ConstMatrixRef dz, ConstMatrixRef wt, const ConvGeometry& g) override;
  // The weight gradient with the batch's channels as source rows (each
  // N*H*W values; the workers expand them), for layers of at least
  // kMinChannelRows input channels: with fewer, a code would have too few
  // source rows to mix (one channel is a whole raw batch, and every coded
  // task of it a scaled copy), so those take the im2col rows' way.
  static constexpr int64_t kMinChannelRows = 8;
  absl::StatusOr<Matrix> MultiplyIm2colTransposed(ConstMatrixRef x, const ConvGeometry& g, ConstMatrixRef dz) override;

  int64_t remote_products() const { return remote_; }
  int64_t local_products() const { return local_; }
  // Remote products sent as convolution RowOp jobs (images or channels, not
  // im2col rows).
  int64_t conv_products() const { return conv_; }
  // The remote products' job statistics, summed (encode, queue, decode,
  // submit-to-done times; tasks): where a product's time went. Like the
  // counters above, kept unlocked: one training thread calls Multiply.
  const JobStats& remote_stats() const { return stats_; }

 private:
  // Can the product go as a RowOp job (common/row_op.h)? Not for the
  // private strategy, nor beyond the row operations' bounds (CheckRowOp).
  static bool Convolutional(const CodeSpec& spec, const RowOp& op, int64_t a_cols, int64_t b_rows, int64_t b_cols);
  // The strategy for `kind`, LT symbols sized for `rows` source rows.
  CodeSpec SpecFor(cnn::ProductKind kind, int64_t rows) const;
  // Submits op(a, b) (A's rows the source rows) and waits for the product.
  absl::StatusOr<Matrix> RunRemote(Matrix a, Matrix b, const CodeSpec& spec, const RowOp& op);

  TaskPool* const pool_;
  const ClusterEngineOptions options_;
  cnn::LocalEngine local_engine_;
  int64_t remote_ = 0, local_ = 0, conv_ = 0;
  JobStats stats_;
};

}  // namespace codedge

#endif  // CODEDGE_SERVER_CLUSTER_ENGINE_H_
