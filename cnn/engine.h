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
};

class LocalEngine final : public MatmulEngine {
 public:
  absl::StatusOr<Matrix> Multiply(ConstMatrixRef a, ConstMatrixRef b, ProductKind kind) override;
  absl::StatusOr<Matrix> MultiplyTransposedA(ConstMatrixRef a, ConstMatrixRef b, ProductKind kind) override;
};

}  // namespace codedge::cnn

#endif  // CODEDGE_CNN_ENGINE_H_
