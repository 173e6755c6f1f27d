// Layers and sequential models over NHWC activations (cnn/kernels.h). A
// layer's Forward keeps what its Backward needs (im2col rows, pooling
// argmax, outputs); Backward fills the parameter gradients and returns the
// gradient of its input. Every product goes through the MatmulEngine.
#ifndef CODEDGE_CNN_MODEL_H_
#define CODEDGE_CNN_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cnn/engine.h"
#include "cnn/kernels.h"
#include "common/matrix.h"
#include "common/random.h"

namespace codedge::cnn {

struct Param {
  std::string name;
  Matrix value, grad, velocity;
  bool decay = true;  // weight decay applies (weights), or not (biases)
};

// Shape of one example's activation: H x W x C.
struct Shape {
  int64_t h = 1, w = 1, c = 1;
  int64_t size() const { return h * w * c; }
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string name() const = 0;
  virtual Shape output(const Shape& in) const = 0;
  // x: (N*H*W, C) for a batch of n examples of shape `in`.
  virtual absl::StatusOr<Matrix> Forward(const Matrix& x, int64_t n, MatmulEngine& engine) = 0;
  // `need_dx`: false for the first layer (nobody needs the gradient of the
  // images): the layer may return an empty matrix and skip that work.
  virtual absl::StatusOr<Matrix> Backward(const Matrix& dy, MatmulEngine& engine, bool need_dx = true) = 0;
  virtual std::vector<Param*> params() { return {}; }
  // An independent copy (parameters included): a replica for another thread.
  virtual std::unique_ptr<Layer> Clone() const = 0;
};

// 3x3 (or k x k) convolution, stride 1, "same" padding, with bias. He init.
std::unique_ptr<Layer> Conv(Shape in, int64_t filters, Pcg32& rng, int64_t k = 3);
std::unique_ptr<Layer> Relu();
std::unique_ptr<Layer> MaxPool2(Shape in);
// Fully connected over the flattened activation (in.size() -> out). He init.
std::unique_ptr<Layer> Dense(Shape in, int64_t out, Pcg32& rng);

struct SgdOptions {
  double learning_rate = 0.01, momentum = 0.9, weight_decay = 5e-4;
};

class Model {
 public:
  // "vgg-mini" (28x28x1 inputs): conv 1->16, 16->16, pool, 16->32, 32->32,
  // pool, FC 1568->128, FC 128->10, ReLU between.
  // "vgg11" (32x32x3, CIFAR-10): VGG-11 widths 64, M, 128, M, 256, 256, M,
  // 512, 512, M, 512, 512, M, then FC 512->512->10.
  // "vgg:H,W,C:LAYERS:FC" -- any VGG-style stack: LAYERS is a list of conv
  // widths and M (2x2 max-pool), FC the hidden widths then the classes,
  // e.g. "vgg:8,8,2:4,M,8:16,10". InvalidArgument otherwise.
  static absl::StatusOr<Model> Create(const std::string& name, uint64_t seed);

  Shape input() const { return input_; }
  int64_t classes() const { return classes_; }
  // images: (N, H*W*C) in NHWC order. Returns logits (N, classes).
  absl::StatusOr<Matrix> Forward(const Matrix& images, MatmulEngine& engine);
  // After Forward: back-propagates dlogits (N, classes) into every grad.
  absl::Status Backward(const Matrix& dlogits, MatmulEngine& engine);
  // One step of SGD with momentum and weight decay (decay on weights, not biases).
  void Step(const SgdOptions& o);
  std::vector<Param*> params();
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  // An independent copy with the same parameters (data-parallel replicas).
  Model Clone() const;

 private:
  Shape input_;
  int64_t classes_ = 0;
  std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace codedge::cnn

#endif  // CODEDGE_CNN_MODEL_H_
