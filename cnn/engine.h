// Where a CNN's products run. Every product of a layer -- forward
// Z = A.W, backward dA = dZ.W^T and dW = A^T.dZ -- goes through a
// MatmulEngine: LocalEngine computes it here (Eigen/OpenBLAS); the edge
// server's cluster engine (server/) codes it over the workers, with a
// strategy per product kind. The first operand is the one that is cut into
// row blocks and coded: the image data (im2col rows) in the forward pass,
// as in the paper.
#ifndef CODEDGE_CNN_ENGINE_H_
#define CODEDGE_CNN_ENGINE_H_

#include "absl/status/statusor.h"
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
  // How many rows of a layer's first operand the engine wants per product:
  // 0 (default) means the whole batch in one product -- what a distributing
  // engine codes over its workers. A local engine asks for cache-sized
  // pieces: a convolution then runs im2col and the products a few images at
  // a time (the im2col rows of a batch are tens of MB) and recomputes the
  // im2col rows in its backward pass instead of keeping them.
  virtual int64_t preferred_rows() const { return 0; }
};

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
