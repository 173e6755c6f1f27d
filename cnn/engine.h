// Where a CNN's products run. Every product of a layer -- forward
// Z = A.W, backward dA = dZ.W^T and dW = A^T.dZ -- goes through a
// MatmulEngine: LocalEngine computes it here (Eigen/OpenBLAS); the edge
// server's cluster engine (server/) codes it over the workers, with a
// strategy per product kind. The first operand is the one that is cut into
// row blocks and coded: the image data in the forward pass, as in the
// paper. A convolution's forward and input-gradient products have their
// own calls (MultiplyIm2col, MultiplyCol2im), so that a distributing engine
// can code whole images rather than their im2col rows.
#ifndef CODEDGE_CNN_ENGINE_H_
#define CODEDGE_CNN_ENGINE_H_

#include "absl/status/statusor.h"
#include "common/im2col.h"
#include "common/matrix.h"

namespace codedge::cnn {

enum class ProductKind { kForward, kBackwardData, kBackwardWeights };

class MatmulEngine {
 public:
  virtual ~MatmulEngine() = default;
  // a (M x K) . b (K x N). InvalidArgument if the shapes do not chain;
  // engines that distribute may also fail (Unavailable, DeadlineExceeded).
  virtual absl::StatusOr<Matrix> Multiply(ConstMatrixRef a, ConstMatrixRef b, ProductKind kind) = 0;
  // a^T . b for a (K x M), b (K x N): the weight gradients. The default
  // materialises a^T (a distributing engine needs its rows anyway); the
  // local engine multiplies without the copy.
  virtual absl::StatusOr<Matrix> MultiplyTransposedA(ConstMatrixRef a, ConstMatrixRef b, ProductKind kind) {
    const Matrix at = a.transpose();
    return Multiply(at, b, kind);
  }
  // A convolution's forward product Im2Col(x) . w for g.n images x
  // (N*H*W, C) and filters w (KH*KW*C, F): (N*OH*OW, F). The default builds
  // the im2col rows and multiplies them; a distributing engine can send the
  // images instead -- 9x fewer bytes for a 3x3 kernel -- and have its
  // workers expand them (common/row_op.h). InvalidArgument for shapes that
  // do not fit g.
  virtual absl::StatusOr<Matrix> MultiplyIm2col(ConstMatrixRef x, const ConvGeometry& g, ConstMatrixRef w);
  // The convolution's input gradient Col2Im(dz . wt) for dz (N*OH*OW, F)
  // and wt (F, KH*KW*C): (N*H*W, C). The default multiplies, then runs
  // Col2Im here; a distributing engine can have its workers return each
  // image's col2im'd gradient instead of its im2col rows.
  virtual absl::StatusOr<Matrix> MultiplyCol2im(ConstMatrixRef dz, ConstMatrixRef wt, const ConvGeometry& g);
  // The convolution's weight gradient Im2Col(x)^T . dz for the g.n images
  // x (N*H*W, C) and dz (N*OH*OW, F): (KH*KW*C, F). The default builds the
  // im2col rows and calls MultiplyTransposedA; a distributing engine can
  // send the images' channels instead of the im2col rows' columns.
  virtual absl::StatusOr<Matrix> MultiplyIm2colTransposed(ConstMatrixRef x, const ConvGeometry& g, ConstMatrixRef dz);
  // How many rows of a layer's first operand the engine wants per product:
  // 0 (default) means the whole batch in one product -- what a distributing
  // engine codes over its workers. A local engine asks for cache-sized
  // pieces: a convolution then runs im2col and the products a few images at
  // a time (the im2col rows of a batch are tens of MB) and recomputes the
  // im2col rows in its backward pass instead of keeping them.
  virtual int64_t preferred_rows() const { return 0; }
};

// OK if the operands of MultiplyIm2col / MultiplyCol2im /
// MultiplyIm2colTransposed fit `g`;
// InvalidArgument naming the mismatch otherwise.
absl::Status CheckIm2colOperands(ConstMatrixRef x, const ConvGeometry& g, ConstMatrixRef w);
absl::Status CheckCol2imOperands(ConstMatrixRef dz, ConstMatrixRef wt, const ConvGeometry& g);
absl::Status CheckWeightGradientOperands(ConstMatrixRef x, const ConvGeometry& g, ConstMatrixRef dz);

class LocalEngine final : public MatmulEngine {
 public:
  // `preferred_rows`: see MatmulEngine (0: whole batches). The default, two
  // 28x28 images, keeps a 3x3x16-channel layer's im2col piece (1568 x 144
  // floats, 0.9 MB) within L2; measured on this machine against 784, 4096
  // and whole batches (BENCHMARKS.md).
  explicit LocalEngine(int64_t preferred_rows = 1568) : preferred_rows_(preferred_rows) {}
  absl::StatusOr<Matrix> Multiply(ConstMatrixRef a, ConstMatrixRef b, ProductKind kind) override;
  absl::StatusOr<Matrix> MultiplyTransposedA(ConstMatrixRef a, ConstMatrixRef b, ProductKind kind) override;
  int64_t preferred_rows() const override { return preferred_rows_; }

 private:
  int64_t preferred_rows_;
};

}  // namespace codedge::cnn

#endif  // CODEDGE_CNN_ENGINE_H_
