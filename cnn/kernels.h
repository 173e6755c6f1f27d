// CNN kernels as pure functions over row-major float matrices (DESIGN.md,
// style 6). Activations are NHWC and stored as a Matrix of shape
// (N*H*W, C): row (n, h, w) holds the C channels of one pixel. The same
// memory read as (N, H*W*C) is the flattened input of a fully connected
// layer, so flattening is free.
//
// Convolution is im2col + one product (paper, sec. 3.2, eqs. 1-6):
//   cols = Im2Col(x)                (N*OH*OW, KH*KW*C), column (kh, kw, c)
//   z    = cols . W + b             W: (KH*KW*C, F), z: (N*OH*OW, F)
// backward, given dz (N*OH*OW, F):
//   dW   = cols^T . dz              (KH*KW*C, F)
//   db   = column sums of dz        (1, F)
//   dcols = dz . W^T                (N*OH*OW, KH*KW*C)
//   dx   = Col2Im(dcols)            (N*H*W, C), overlapping patches summed
// The three products go through a MatmulEngine (cnn/engine.h); everything
// else here is local and cheap.
#ifndef CODEDGE_CNN_KERNELS_H_
#define CODEDGE_CNN_KERNELS_H_

#include <cstdint>
#include <vector>

#include "common/im2col.h"
#include "common/matrix.h"

namespace codedge::cnn {

// Convolution geometry, im2col and col2im live in common/im2col.h (a
// worker runs them too).
using codedge::Col2Im;
using codedge::ConvGeometry;
using codedge::Im2Col;

// Max pooling, window `size`, stride `size` (2x2 in VGG). x: (N*H*W, C) ->
// (N*OH*OW, C); `argmax` (per output element) is the input row chosen.
struct PoolGeometry {
  int64_t n = 1, h = 2, w = 2, c = 1, size = 2;
  int64_t out_h() const { return h / size; }
  int64_t out_w() const { return w / size; }
};
Matrix MaxPool(ConstMatrixRef x, const PoolGeometry& g, std::vector<int32_t>* argmax);
Matrix MaxPoolBackward(ConstMatrixRef dy, const PoolGeometry& g, const std::vector<int32_t>& argmax);

// max(x, 0), in one pass. Backward: dy where y > 0, else 0 (y is the
// layer's output, which is > 0 exactly where its input was).
Matrix Relu(ConstMatrixRef x);
Matrix ReluBackward(ConstMatrixRef y, ConstMatrixRef dy);

// Adds the (1, F) row `b` to every row of z.
void AddBias(MatrixRef z, ConstMatrixRef b);

// Mean softmax cross-entropy of logits (N, K) against labels in [0, K);
// `dlogits` = (softmax - onehot) / N. Returns the loss; counts correct
// argmax predictions into *correct.
double SoftmaxCrossEntropy(ConstMatrixRef logits, const std::vector<int32_t>& labels, Matrix* dlogits,
                           int64_t* correct);

}  // namespace codedge::cnn

#endif  // CODEDGE_CNN_KERNELS_H_
