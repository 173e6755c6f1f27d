// What a worker computes from a task's rows and a job's B.
//
//   kProduct       rows . B (every job but a convolution's).
//   kIm2colProduct every row of the task is one image (H*W*C values, NHWC);
//                  its result row is Im2Col(image) . B, OH*OW*F values:
//                  the image's convolution output, B being the (KH*KW*C, F)
//                  filters.
//   kProductCol2im every row is one image's output gradient (OH*OW*F
//                  values); its result row is Col2Im(dz . B), H*W*C values:
//                  the input gradient, B being the filters transposed
//                  (F, KH*KW*C).
//   kIm2colTransposedProduct
//                  every row is one channel of a whole batch of n images
//                  (n*H*W values, (image, y, x)); its result row is
//                  Im2Col(channel)^T . B, KH*KW*F values: that channel's
//                  rows of the weight gradient, B being the output gradient
//                  dz (n*OH*OW, F). conv.n is the batch, conv.c is 1.
//
// Every convolution kind is linear in the row, so a coded combination of
// images (or of gradients) gives the same combination of their results and
// every code decodes them unchanged. What they save is bytes: for a 3x3
// kernel an image's im2col rows are 9x the image, so sending the image and
// letting the worker expand it moves 9x less (forward, weight gradient),
// and returning the col2im'd gradient instead of its im2col rows 9x less
// (input gradient).
#ifndef CODEDGE_COMMON_ROW_OP_H_
#define CODEDGE_COMMON_ROW_OP_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/im2col.h"
#include "common/matrix.h"

namespace codedge {

struct RowOp {
  enum class Kind { kProduct, kIm2colProduct, kProductCol2im, kIm2colTransposedProduct };
  Kind kind = Kind::kProduct;
  // Convolution kinds only: one image's geometry (conv.n is ignored), or
  // for kIm2colTransposedProduct one channel of the batch's (conv.n images,
  // conv.c = 1).
  ConvGeometry conv;

  bool plain() const { return kind == Kind::kProduct; }
  // Values per task row (B having `b_rows` rows) and per result row (B
  // having `b_cols` columns). Only for an op whose geometry passed
  // CheckConvGeometry (they divide by the stride).
  int64_t InCols(int64_t b_rows) const;
  int64_t OutCols(int64_t b_cols) const;
  // Multiply-adds per task row.
  int64_t MacsPerRow(int64_t a_cols, int64_t b_cols) const;
  // Scratch values ApplyRowOp needs per row of a chunk (the expanded im2col
  // rows; 0 for kProduct).
  int64_t ScratchPerRow() const;
  // Rows worth computing together, whatever their multiply-adds: a weight
  // gradient's rows share one product with dz only within a chunk (a single
  // channel's KH*KW x dz product reads all of dz for KH*KW rows: 1.6x the
  // time per channel of 4 or more together).
  int64_t MinChunkRows() const;
  std::string ToString() const;
};

// Bounds of a convolution's geometry: sizes in [1, 2^16], stride >= 1,
// 0 <= pad < kernel, kernel <= padded input, and at most kMaxRowOpValues
// values in a task row, in its expanded (im2col) form and in its result row.
// A row's work is bounded too (kMaxRowOpMacs: 0.08-0.3 s at this
// machine's single-thread rates, 14-53 G multiply-adds/s by shape; longer
// on slow devices), since a worker notices a cancel only between chunks of
// rows (the executor puts no more than that much work in a chunk of
// several rows).
inline constexpr int64_t kMaxConvSide = int64_t{1} << 16;
inline constexpr int64_t kMaxRowOpValues = int64_t{1} << 26;
inline constexpr int64_t kMaxRowOpMacs = int64_t{1} << 32;

// OK if op's geometry is within those bounds (always OK for kProduct);
// InvalidArgument naming what is not. Whatever comes from the wire passes
// this before anything computes with it (RowOpFromProto does).
absl::Status CheckConvGeometry(const RowOp& op);
// OK if rows of `a_cols` values and a `b_rows` x `b_cols` B fit `op`, its
// geometry and its result rows within the bounds; InvalidArgument naming
// what does not.
absl::Status CheckRowOp(const RowOp& op, int64_t a_cols, int64_t b_rows, int64_t b_cols);

// out = op(rows, b): rows.rows() x op.OutCols(b.cols()). The shapes must
// have passed CheckRowOp (not checked again). `scratch` is reused across
// calls (the convolution kinds' im2col rows).
void ApplyRowOp(const RowOp& op, ConstMatrixRef rows, ConstMatrixRef b, Eigen::Map<Matrix> out, Matrix& scratch);

}  // namespace codedge

#endif  // CODEDGE_COMMON_ROW_OP_H_
