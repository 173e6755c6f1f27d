// im2col and its adjoint col2im: a convolution as one matrix product. Here,
// below cnn/, because a worker runs them too: it can be sent whole coded
// images and expand them itself instead of receiving their im2col rows
// (common/row_op.h).
//
// Activations are NHWC, stored as a Matrix of shape (N*H*W, C): row (n, h, w)
// holds the C channels of one pixel.
//   cols = Im2Col(x)      (N*OH*OW, KH*KW*C), column (kh, kw, c); zero padding
//   dx   = Col2Im(dcols)  (N*H*W, C), overlapping patches summed
#ifndef CODEDGE_COMMON_IM2COL_H_
#define CODEDGE_COMMON_IM2COL_H_

#include <cstdint>

#include "common/matrix.h"

namespace codedge {

struct ConvGeometry {
  int64_t n = 1, h = 1, w = 1, c = 1;  // input batch, height, width, channels
  int64_t kh = 3, kw = 3;              // kernel
  int64_t stride = 1, pad = 1;
  int64_t out_h() const { return (h + 2 * pad - kh) / stride + 1; }
  int64_t out_w() const { return (w + 2 * pad - kw) / stride + 1; }
  int64_t patch() const { return kh * kw * c; }
};

// x: (N*H*W, C) -> (N*OH*OW, KH*KW*C).
Matrix Im2Col(ConstMatrixRef x, const ConvGeometry& g);
// dcols: (N*OH*OW, KH*KW*C) -> (N*H*W, C), the adjoint of Im2Col.
Matrix Col2Im(ConstMatrixRef dcols, const ConvGeometry& g);
// One channel of g.n images, x (g.n*H*W values, (image, y, x); g.c is
// ignored): its im2col rows transposed, (KH*KW, g.n*OH*OW): row (kh, kw)
// holds the input under that kernel offset at every output pixel. Built
// run by run (an image row at a time), not value by value.
void ChannelShiftsInto(const float* x, const ConvGeometry& g, MatrixRef out);
// The same into caller-owned memory of exactly those shapes (not checked).
void Im2ColInto(ConstMatrixRef x, const ConvGeometry& g, MatrixRef cols);
void Col2ImInto(ConstMatrixRef dcols, const ConvGeometry& g, MatrixRef dx);

}  // namespace codedge

#endif  // CODEDGE_COMMON_IM2COL_H_
