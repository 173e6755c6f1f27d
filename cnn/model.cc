#include "cnn/model.h"

#include <algorithm>

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace codedge::cnn {
namespace {

Matrix HeInit(int64_t fan_in, int64_t rows, int64_t cols, Pcg32& rng) {
  const double sd = std::sqrt(2.0 / static_cast<double>(fan_in));
  Matrix m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.Normal(0.0, sd));
  return m;
}

Param MakeParam(std::string name, Matrix value, bool decay) {
  Param p;
  p.name = std::move(name);
  p.decay = decay;
  p.grad = Matrix::Zero(value.rows(), value.cols());
  p.velocity = Matrix::Zero(value.rows(), value.cols());
  p.value = std::move(value);
  return p;
}

class ConvLayer final : public Layer {
 public:
  ConvLayer(Shape in, int64_t filters, int64_t k, Pcg32& rng) : in_(in), filters_(filters), k_(k) {
    w_ = MakeParam(absl::StrCat("conv", in.c, "x", filters, ".w"), HeInit(k * k * in.c, k * k * in.c, filters, rng),
                   true);
    b_ = MakeParam(absl::StrCat("conv", in.c, "x", filters, ".b"), Matrix::Zero(1, filters), false);
  }
  std::string name() const override { return absl::StrCat("conv", k_, "x", k_, " ", in_.c, "->", filters_); }
  Shape output(const Shape& in) const override { return {in.h, in.w, filters_}; }

  absl::StatusOr<Matrix> Forward(const Matrix& x, int64_t n, MatmulEngine& engine) override {
    g_ = ConvGeometry{n, in_.h, in_.w, in_.c, k_, k_, 1, k_ / 2};
    chunk_ = ImagesPerProduct(engine, n);
    x_ = x;  // backward recomputes the im2col rows from it
    if (chunk_ >= n) {  // the whole batch in one product (a distributing engine codes it)
      ASSIGN_OR_RETURN(Matrix z, engine.MultiplyIm2col(x, g_, w_.value));  // (N*H*W, F)
      AddBias(z, b_.value);
      return z;
    }
    // A few images at a time: their im2col rows stay in cache for the
    // product.
    const int64_t pixels = in_.h * in_.w;
    Matrix z(n * pixels, filters_);
    for (int64_t first = 0; first < n; first += chunk_) {
      const int64_t m = std::min(chunk_, n - first);
      ConvGeometry g = g_;
      g.n = m;
      const Matrix cols = Im2Col(x.middleRows(first * pixels, m * pixels), g);
      ASSIGN_OR_RETURN(Matrix part, engine.Multiply(cols, w_.value, ProductKind::kForward));
      z.middleRows(first * pixels, m * pixels) = part;
    }
    AddBias(z, b_.value);
    return z;
  }

  absl::StatusOr<Matrix> Backward(const Matrix& dz, MatmulEngine& engine, bool need_dx) override {
    b_.grad = dz.colwise().sum();
    if (chunk_ >= g_.n) {
      ASSIGN_OR_RETURN(w_.grad, engine.MultiplyIm2colTransposed(x_, g_, dz));  // (k*k*C, F)
      if (!need_dx) return Matrix();
      const Matrix wt = w_.value.transpose();
      return engine.MultiplyCol2im(dz, wt, g_);  // (N*H*W, C)
    }
    const int64_t pixels = in_.h * in_.w, n = g_.n;
    w_.grad = Matrix::Zero(w_.value.rows(), w_.value.cols());
    Matrix dx;
    if (need_dx) dx.resize(n * pixels, in_.c);
    const Matrix wt = w_.value.transpose();
    for (int64_t first = 0; first < n; first += chunk_) {
      const int64_t m = std::min(chunk_, n - first);
      ConvGeometry g = g_;
      g.n = m;
      const Matrix cols = Im2Col(x_.middleRows(first * pixels, m * pixels), g);
      const auto dzc = dz.middleRows(first * pixels, m * pixels);
      ASSIGN_OR_RETURN(Matrix dw, engine.MultiplyTransposedA(cols, dzc, ProductKind::kBackwardWeights));
      w_.grad += dw;
      if (!need_dx) continue;
      ASSIGN_OR_RETURN(Matrix dcols, engine.Multiply(dzc, wt, ProductKind::kBackwardData));
      dx.middleRows(first * pixels, m * pixels) = Col2Im(dcols, g);
    }
    return dx;
  }
  std::vector<Param*> params() override { return {&w_, &b_}; }
  std::unique_ptr<Layer> Clone() const override { return std::make_unique<ConvLayer>(*this); }

 private:
  Shape in_;
  int64_t filters_, k_;
  Param w_, b_;
  ConvGeometry g_;
  int64_t chunk_ = 0;  // images per product in the last Forward
  Matrix x_;           // the input (the weight gradient's im2col rows are recomputed from it)

  // Images per product: enough for the engine's preferred rows, at least 1.
  int64_t ImagesPerProduct(const MatmulEngine& engine, int64_t n) const {
    const int64_t rows = engine.preferred_rows();
    if (rows <= 0) return n;
    return std::max<int64_t>(1, rows / (in_.h * in_.w));
  }
};

class ReluLayer final : public Layer {
 public:
  std::string name() const override { return "relu"; }
  Shape output(const Shape& in) const override { return in; }
  absl::StatusOr<Matrix> Forward(const Matrix& x, int64_t, MatmulEngine&) override {
    y_ = Relu(x);
    return y_;
  }
  absl::StatusOr<Matrix> Backward(const Matrix& dy, MatmulEngine&, bool) override {
    return ReluBackward(y_, dy);
  }
  std::unique_ptr<Layer> Clone() const override { return std::make_unique<ReluLayer>(*this); }

 private:
  Matrix y_;
};

class PoolLayer final : public Layer {
 public:
  explicit PoolLayer(Shape in) : in_(in) {}
  std::string name() const override { return "maxpool2"; }
  Shape output(const Shape& in) const override { return {in.h / 2, in.w / 2, in.c}; }
  absl::StatusOr<Matrix> Forward(const Matrix& x, int64_t n, MatmulEngine&) override {
    g_ = PoolGeometry{n, in_.h, in_.w, in_.c, 2};
    return MaxPool(x, g_, &argmax_);
  }
  absl::StatusOr<Matrix> Backward(const Matrix& dy, MatmulEngine&, bool) override {
    return MaxPoolBackward(dy, g_, argmax_);
  }
  std::unique_ptr<Layer> Clone() const override { return std::make_unique<PoolLayer>(*this); }

 private:
  Shape in_;
  PoolGeometry g_;
  std::vector<int32_t> argmax_;
};

class DenseLayer final : public Layer {
 public:
  DenseLayer(Shape in, int64_t out, Pcg32& rng) : in_(in), out_(out) {
    w_ = MakeParam(absl::StrCat("fc", in.size(), "x", out, ".w"), HeInit(in.size(), in.size(), out, rng), true);
    b_ = MakeParam(absl::StrCat("fc", in.size(), "x", out, ".b"), Matrix::Zero(1, out), false);
  }
  std::string name() const override { return absl::StrCat("fc ", in_.size(), "->", out_); }
  Shape output(const Shape&) const override { return {1, 1, out_}; }
  absl::StatusOr<Matrix> Forward(const Matrix& x, int64_t n, MatmulEngine& engine) override {
    // (N*H*W, C) row-major is (N, H*W*C) row-major: the flatten is a view.
    x_ = Eigen::Map<const Matrix>(x.data(), n, in_.size());
    ASSIGN_OR_RETURN(Matrix z, engine.Multiply(x_, w_.value, ProductKind::kForward));  // (N, out)
    AddBias(z, b_.value);
    return z;
  }
  absl::StatusOr<Matrix> Backward(const Matrix& dz, MatmulEngine& engine, bool need_dx) override {
    ASSIGN_OR_RETURN(w_.grad, engine.MultiplyTransposedA(x_, dz, ProductKind::kBackwardWeights));
    b_.grad = dz.colwise().sum();
    if (!need_dx) return Matrix();
    ASSIGN_OR_RETURN(Matrix dx, engine.Multiply(dz, w_.value.transpose(), ProductKind::kBackwardData));  // (N, in)
    // Back to (N*H*W, C) for the layer below: the same memory.
    Matrix out = Eigen::Map<const Matrix>(dx.data(), dx.rows() * in_.h * in_.w, in_.c);
    return out;
  }
  std::vector<Param*> params() override { return {&w_, &b_}; }
  std::unique_ptr<Layer> Clone() const override { return std::make_unique<DenseLayer>(*this); }

 private:
  Shape in_;
  int64_t out_;
  Param w_, b_;
  Matrix x_;
};

}  // namespace

std::unique_ptr<Layer> Conv(Shape in, int64_t filters, Pcg32& rng, int64_t k) {
  return std::make_unique<ConvLayer>(in, filters, k, rng);
}
std::unique_ptr<Layer> Relu() { return std::make_unique<ReluLayer>(); }
std::unique_ptr<Layer> MaxPool2(Shape in) { return std::make_unique<PoolLayer>(in); }
std::unique_ptr<Layer> Dense(Shape in, int64_t out, Pcg32& rng) { return std::make_unique<DenseLayer>(in, out, rng); }

absl::StatusOr<Model> Model::Create(const std::string& name, uint64_t seed) {
  std::string spec = name;
  if (name == "vgg-mini") spec = "vgg:28,28,1:16,16,M,32,32,M:128,10";
  if (name == "vgg11") spec = "vgg:32,32,3:64,M,128,M,256,256,M,512,512,M,512,512,M:512,10";
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", name, "': ", why, " (use vgg-mini, vgg11 or vgg:H,W,C:LAYERS:FC)"));
  };
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  if (parts.size() != 4 || parts[0] != "vgg") return bad("unknown model");
  std::vector<int64_t> in;
  for (absl::string_view v : absl::StrSplit(parts[1], ',')) {
    int64_t x;
    if (!absl::SimpleAtoi(v, &x) || x < 1 || x > 4096) return bad(absl::StrCat("bad input size '", v, "'"));
    in.push_back(x);
  }
  if (in.size() != 3) return bad("the input is H,W,C");
  Model m;
  Pcg32 rng(seed, 0x6d6f64656c);  // "model"
  m.input_ = {in[0], in[1], in[2]};
  Shape s = m.input_;
  auto add = [&](std::unique_ptr<Layer> l) {
    s = l->output(s);
    m.layers_.push_back(std::move(l));
  };
  for (absl::string_view v : absl::StrSplit(parts[2], ',', absl::SkipEmpty())) {
    if (v == "M") {
      if (s.h < 2 || s.w < 2) return bad("a max-pool on an image smaller than 2x2");
      add(MaxPool2(s));
      continue;
    }
    int64_t f;
    if (!absl::SimpleAtoi(v, &f) || f < 1 || f > 8192) return bad(absl::StrCat("bad conv width '", v, "'"));
    add(Conv(s, f, rng));
    add(Relu());
  }
  std::vector<int64_t> fc;
  for (absl::string_view v : absl::StrSplit(parts[3], ',', absl::SkipEmpty())) {
    int64_t x;
    if (!absl::SimpleAtoi(v, &x) || x < 1 || x > 65536) return bad(absl::StrCat("bad FC width '", v, "'"));
    fc.push_back(x);
  }
  if (fc.empty() || fc.back() < 2) return bad("the last FC width is the number of classes (>= 2)");
  for (size_t i = 0; i < fc.size(); ++i) {
    add(Dense(s, fc[i], rng));
    if (i + 1 < fc.size()) add(Relu());
  }
  m.classes_ = fc.back();
  return m;
}

absl::StatusOr<Matrix> Model::Forward(const Matrix& images, MatmulEngine& engine) {
  if (images.cols() != input_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("images have ", images.cols(), " values each, the model takes ", input_.size()));
  }
  const int64_t n = images.rows();
  // (N, H*W*C) is (N*H*W, C) in the same memory.
  Matrix x = Eigen::Map<const Matrix>(images.data(), n * input_.h * input_.w, input_.c);
  for (auto& l : layers_) {
    ASSIGN_OR_RETURN(x, l->Forward(x, n, engine));
  }
  return x;
}

absl::Status Model::Backward(const Matrix& dlogits, MatmulEngine& engine) {
  Matrix d = dlogits;
  for (size_t i = layers_.size(); i-- > 0;) {
    ASSIGN_OR_RETURN(d, layers_[i]->Backward(d, engine, /*need_dx=*/i > 0));
  }
  return absl::OkStatus();
}

Model Model::Clone() const {
  Model m;
  m.input_ = input_;
  m.classes_ = classes_;
  for (const auto& l : layers_) m.layers_.push_back(l->Clone());
  return m;
}

std::vector<Param*> Model::params() {
  std::vector<Param*> out;
  for (auto& l : layers_)
    for (Param* p : l->params()) out.push_back(p);
  return out;
}

void Model::Step(const SgdOptions& o) {
  for (Param* p : params()) {
    Matrix g = p->grad;
    if (p->decay && o.weight_decay > 0) g += static_cast<float>(o.weight_decay) * p->value;
    p->velocity = static_cast<float>(o.momentum) * p->velocity + g;
    p->value -= static_cast<float>(o.learning_rate) * p->velocity;
  }
}

}  // namespace codedge::cnn
