#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <unistd.h>

#include "absl/strings/match.h"
#include "cnn/dataset.h"
#include "cnn/kernels.h"
#include "cnn/model.h"
#include "cnn/trainer.h"
#include "common/matrix_util.h"

// A file or directory name under /tmp of this test process only: two test
// runs on one machine (two CI clones) must not share files. Everything under
// the process's prefix (derived names too: .tmp, .cut, ...) is removed when
// the process exits.
static std::string TmpPath(const std::string& name) {
  static const std::string prefix = "codedge-" + std::to_string(static_cast<long>(getpid())) + "-";
  struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator("/tmp", ec)) {
        if (entry.path().filename().string().rfind(prefix, 0) == 0) std::filesystem::remove_all(entry.path(), ec);
      }
    }
  };
  static Cleanup cleanup;
  return "/tmp/" + prefix + name;
}

namespace codedge::cnn {
namespace {

// Oracle: direct convolution, NHWC, zero padding, weights (kh, kw, c) x f.
Matrix NaiveConv(const Matrix& x, const Matrix& w, const ConvGeometry& g, int64_t f) {
  Matrix z = Matrix::Zero(g.n * g.out_h() * g.out_w(), f);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t y = 0; y < g.out_h(); ++y)
      for (int64_t xo = 0; xo < g.out_w(); ++xo)
        for (int64_t o = 0; o < f; ++o) {
          double s = 0;
          for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j = 0; j < g.kw; ++j)
              for (int64_t c = 0; c < g.c; ++c) {
                const int64_t iy = y * g.stride + i - g.pad, ix = xo * g.stride + j - g.pad;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                s += static_cast<double>(x((n * g.h + iy) * g.w + ix, c)) * w((i * g.kw + j) * g.c + c, o);
              }
          z((n * g.out_h() + y) * g.out_w() + xo, o) = static_cast<float>(s);
        }
  return z;
}

TEST_CASE("im2col convolution equals a naive direct convolution", "[cnn]") {
  Pcg32 rng(1, 1);
  for (ConvGeometry g : {ConvGeometry{2, 5, 6, 3, 3, 3, 1, 1}, ConvGeometry{1, 7, 7, 2, 3, 3, 2, 0},
                         ConvGeometry{3, 4, 4, 1, 1, 1, 1, 0}, ConvGeometry{1, 6, 5, 4, 5, 5, 1, 2},
                         ConvGeometry{2, 3, 3, 16, 3, 3, 1, 1}, ConvGeometry{1, 8, 8, 1, 3, 3, 1, 1}}) {
    const Matrix x = RandomUniformMatrix(g.n * g.h * g.w, g.c, rng);
    const Matrix w = RandomUniformMatrix(g.patch(), 4, rng);
    const Matrix z = Im2Col(x, g) * w;
    CHECK(RelativeError(z, NaiveConv(x, w, g, 4).cast<double>()) < 1e-5);
  }
}

TEST_CASE("Col2Im is the adjoint of Im2Col", "[cnn]") {
  Pcg32 rng(2, 1);
  for (ConvGeometry g : {ConvGeometry{2, 5, 4, 3, 3, 3, 1, 1}, ConvGeometry{1, 7, 7, 2, 3, 3, 2, 0},
                         ConvGeometry{3, 4, 4, 1, 1, 1, 1, 0}, ConvGeometry{1, 6, 5, 4, 5, 5, 1, 2},
                         ConvGeometry{2, 3, 3, 16, 3, 3, 1, 1}}) {
    const Matrix x = RandomUniformMatrix(g.n * g.h * g.w, g.c, rng);
    const Matrix y = RandomUniformMatrix(g.n * g.out_h() * g.out_w(), g.patch(), rng);
    const double lhs = (Im2Col(x, g).cast<double>().array() * y.cast<double>().array()).sum();
    const double rhs = (x.cast<double>().array() * Col2Im(y, g).cast<double>().array()).sum();
    CHECK(lhs == Approx(rhs).epsilon(1e-5));
  }
}

// Finite differences on L = sum(f(x) .* R) for a fixed random readout R.
// Central differences in double over float kernels: eps 1e-2, tolerance 2 %.
// `preferred_rows` 0: whole-batch products; small: a convolution works a
// few images at a time (cnn/engine.h).
void CheckLayerGradients(Layer& layer, Matrix x, int64_t n, Pcg32& rng, int64_t preferred_rows = 0) {
  LocalEngine e(preferred_rows);
  Matrix y = *layer.Forward(x, n, e);
  const Matrix r = RandomUniformMatrix(y.rows(), y.cols(), rng);
  auto loss = [&](const Matrix& in) {
    Matrix out = *layer.Forward(in, n, e);
    return (out.cast<double>().array() * r.cast<double>().array()).sum();
  };
  (void)layer.Forward(x, n, e);
  const Matrix dx = *layer.Backward(r, e);
  std::vector<Matrix> grads;
  for (Param* p : layer.params()) grads.push_back(p->grad);
  const float eps = 1e-2f;
  for (int t = 0; t < 12; ++t) {
    const int64_t i = rng.UniformInt(static_cast<uint32_t>(x.size()));
    Matrix xp = x, xm = x;
    xp.data()[i] += eps;
    xm.data()[i] -= eps;
    const double num = (loss(xp) - loss(xm)) / (2 * eps);
    INFO(layer.name() << " input " << i);
    CHECK(dx.data()[i] == Approx(num).epsilon(0.02).margin(2e-3));
  }
  auto params = layer.params();
  for (size_t k = 0; k < params.size(); ++k) {
    Param* p = params[k];
    for (int t = 0; t < 8; ++t) {
      const int64_t i = rng.UniformInt(static_cast<uint32_t>(p->value.size()));
      const float keep = p->value.data()[i];
      p->value.data()[i] = keep + eps;
      const double lp = loss(x);
      p->value.data()[i] = keep - eps;
      const double lm = loss(x);
      p->value.data()[i] = keep;
      INFO(p->name << " " << i);
      CHECK(grads[k].data()[i] == Approx((lp - lm) / (2 * eps)).epsilon(0.02).margin(2e-3));
    }
  }
}

TEST_CASE("Every layer's gradients match finite differences", "[cnn][gradient]") {
  Pcg32 rng(3, 1);
  const Shape in{6, 6, 3};
  const int64_t n = 2;
  const Matrix x = RandomUniformMatrix(n * in.h * in.w, in.c, rng);
  auto conv = Conv(in, 4, rng);
  CheckLayerGradients(*conv, x, n, rng);
  CheckLayerGradients(*conv, x, n, rng, /*preferred_rows=*/36);  // one image per product
  auto dense = Dense(in, 5, rng);
  CheckLayerGradients(*dense, x, n, rng);
  auto pool = MaxPool2(in);
  CheckLayerGradients(*pool, x, n, rng);
  // ReLU away from its kink: inputs at least eps from 0.
  Matrix xr = x;
  for (int64_t i = 0; i < xr.size(); ++i)
    if (std::abs(xr.data()[i]) < 0.05f) xr.data()[i] = 0.1f;
  auto relu = Relu();
  CheckLayerGradients(*relu, xr, n, rng);
}

TEST_CASE("A convolution computed a few images at a time equals the whole-batch one", "[cnn][gradient]") {
  Pcg32 rng(3, 2);
  const Shape in{28, 28, 16};
  const int64_t n = 7;
  const Matrix x = RandomUniformMatrix(n * in.h * in.w, in.c, rng);
  const Matrix dz = RandomUniformMatrix(n * in.h * in.w, 32, rng);
  auto whole = Conv(in, 32, rng);
  auto pieces = whole->Clone();
  LocalEngine one(0), few(3 * 784);  // whole batch; 3 + 3 + 1 images
  const Matrix z1 = *whole->Forward(x, n, one), z2 = *pieces->Forward(x, n, few);
  CHECK((z1 - z2).cwiseAbs().maxCoeff() <= 1e-5 * z1.cwiseAbs().maxCoeff());
  for (bool need_dx : {true, false}) {
    const Matrix dx1 = *whole->Backward(dz, one, need_dx), dx2 = *pieces->Backward(dz, few, need_dx);
    REQUIRE(dx1.rows() == dx2.rows());
    if (need_dx) CHECK((dx1 - dx2).cwiseAbs().maxCoeff() <= 1e-5 * dx1.cwiseAbs().maxCoeff());
    const auto p1 = whole->params(), p2 = pieces->params();
    for (size_t k = 0; k < p1.size(); ++k) {
      INFO(p1[k]->name);
      CHECK((p1[k]->grad - p2[k]->grad).cwiseAbs().maxCoeff() <= 1e-5 * p1[k]->grad.cwiseAbs().maxCoeff());
    }
  }
}

TEST_CASE("Softmax cross-entropy gradient matches finite differences", "[cnn][gradient]") {
  Pcg32 rng(4, 1);
  const Matrix logits = RandomUniformMatrix(3, 5, rng, -2, 2);
  const std::vector<int32_t> labels = {0, 4, 2};
  Matrix d;
  int64_t correct = 0;
  SoftmaxCrossEntropy(logits, labels, &d, &correct);
  for (int64_t i = 0; i < logits.size(); ++i) {
    Matrix p = logits, m = logits, tmp;
    p.data()[i] += 1e-2f;
    m.data()[i] -= 1e-2f;
    int64_t c2 = 0;
    const double num = (SoftmaxCrossEntropy(p, labels, &tmp, &c2) - SoftmaxCrossEntropy(m, labels, &tmp, &c2)) / 2e-2;
    CHECK(d.data()[i] == Approx(num).epsilon(0.01).margin(1e-4));
  }
}

// Finite differences of the mean loss over a model's parameters: `samples`
// coordinates per parameter (the first the largest-gradient one if
// `largest_first`), skipping those with |gradient| < min_grad. Through ReLU
// and max-pool decisions a perturbation may cross a kink, where no finite
// difference means anything: such coordinates are recognised (forward and
// backward one-sided differences disagree) and skipped; every other one must
// match, within 3 % or `margin`, the central difference's own noise: the
// loss is a float forward pass, and its rounding moves with every
// perturbation. Returns how many were checked.
int CheckModelGradients(Model& model, const Matrix& images, const std::vector<int32_t>& labels, Pcg32& rng,
                        int samples, bool largest_first, double min_grad, double margin = 5e-4) {
  LocalEngine e;
  auto loss = [&] {
    Matrix d;
    int64_t c = 0;
    return SoftmaxCrossEntropy(*model.Forward(images, e), labels, &d, &c);
  };
  Matrix d;
  int64_t c = 0;
  SoftmaxCrossEntropy(*model.Forward(images, e), labels, &d, &c);
  REQUIRE(model.Backward(d, e).ok());
  std::vector<Matrix> grads;
  for (Param* p : model.params()) grads.push_back(p->grad);
  const float eps = 2e-3f;
  const double l0 = loss();
  int checked = 0, kinks = 0;
  auto params = model.params();
  for (size_t k = 0; k < params.size(); ++k) {
    Param* p = params[k];
    for (int t = 0; t < samples; ++t) {
      int64_t i = rng.UniformInt(static_cast<uint32_t>(p->value.size()));
      if (largest_first && t == 0) {  // the largest gradient carries signal above float noise
        Eigen::Index r, col;
        grads[k].cwiseAbs().maxCoeff(&r, &col);
        i = r * grads[k].cols() + col;
      } else if (std::abs(grads[k].data()[i]) < min_grad) {
        continue;
      }
      const float keep = p->value.data()[i];
      p->value.data()[i] = keep + eps;
      const double lp = loss();
      p->value.data()[i] = keep - eps;
      const double lm = loss();
      p->value.data()[i] = keep;
      const double fwd = (lp - l0) / eps, bwd = (l0 - lm) / eps;
      if (std::abs(fwd - bwd) > 0.02 * std::max(std::abs(fwd), std::abs(bwd)) + 2e-4) {
        ++kinks;
        continue;
      }
      INFO(p->name << " " << i << " fwd " << fwd << " bwd " << bwd);
      CHECK(grads[k].data()[i] == Approx((lp - lm) / (2 * eps)).epsilon(0.03).margin(margin));
      ++checked;
    }
  }
  INFO("checked " << checked << ", skipped at kinks " << kinks);
  return checked;
}

TEST_CASE("The whole vgg-mini model's gradients match finite differences", "[cnn][gradient]") {
  auto model = Model::Create("vgg-mini", 7);
  REQUIRE(model.ok());
  Pcg32 rng(5, 1);
  const Matrix images = RandomUniformMatrix(2, 28 * 28, rng, 0, 1);
  // In the whole 28x28 model that noise is larger than in the small ones.
  // Under three OpenBLAS kernel sets (SkylakeX, Haswell, Prescott) the same
  // coordinates' central differences moved by up to 6e-4 in the
  // convolutions (gradient 0.0224: 0.0230, 0.0225, 0.0224), and a gradient
  // of -0.0080 gave -0.0074 on SkylakeX, which failed this test with a
  // 2e-3 floor and a 5e-4 margin. Besides each parameter's largest
  // gradient, coordinates under 0.02 are left to the per-layer checks; the
  // margin is 2e-3. (Scaling conv16x32's weight gradient by 1.05 still
  // failed 2 of its checks.)
  const int checked =
      CheckModelGradients(*model, images, {3, 8}, rng, 6, /*largest_first=*/true, /*min_grad=*/2e-2, /*margin=*/2e-3);
  CHECK(checked >= static_cast<int>(model->params().size()));
}

TEST_CASE("Training twice from the same seed gives identical weights", "[cnn]") {
  Pcg32 rng(6, 1);
  const Matrix images = RandomUniformMatrix(8, 28 * 28, rng, 0, 1);
  const std::vector<int32_t> labels = {0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<Matrix> first;
  double first_loss = 0, last_loss = 0;
  for (int run = 0; run < 2; ++run) {
    auto model = Model::Create("vgg-mini", 11);
    REQUIRE(model.ok());
    LocalEngine e;
    for (int step = 0; step < 5; ++step) {
      Matrix d;
      int64_t c = 0;
      const double l = SoftmaxCrossEntropy(*model->Forward(images, e), labels, &d, &c);
      if (step == 0) first_loss = l;
      last_loss = l;
      REQUIRE(model->Backward(d, e).ok());
      model->Step({});
    }
    std::vector<Matrix> w;
    for (Param* p : model->params()) w.push_back(p->value);
    if (run == 0) {
      first = w;
    } else {
      for (size_t k = 0; k < w.size(); ++k) CHECK(w[k] == first[k]);
    }
  }
  CHECK(last_loss < first_loss);  // it learns
}

TEST_CASE("A batch split over replicas on threads gives the whole batch's gradients", "[cnn][trainer]") {
  Pcg32 rng(6, 2);
  const Matrix images = RandomUniformMatrix(7, 28 * 28, rng, 0, 1);  // 7: parts of unequal size
  const std::vector<int32_t> labels = {0, 1, 2, 3, 4, 5, 9};
  auto model = Model::Create("vgg-mini", 12);
  REQUIRE(model.ok());
  LocalEngine e;
  // The oracle: one forward and backward over all 7 images.
  Matrix d;
  int64_t want_correct = 0;
  const double want_loss = SoftmaxCrossEntropy(*model->Forward(images, e), labels, &d, &want_correct);
  REQUIRE(model->Backward(d, e).ok());
  std::vector<Matrix> want;
  for (Param* p : model->params()) want.push_back(p->grad);
  for (int parts : {1, 2, 3, 7, 9}) {
    INFO(parts << " parts");
    std::vector<Model> replicas;
    for (int r = 1; r < parts; ++r) replicas.push_back(model->Clone());
    // Stale replica parameters must not matter: they are refreshed.
    for (Model& m : replicas) {
      for (Param* p : m.params()) p->value.setZero();
    }
    int64_t correct = 0;
    auto loss = BatchGradients(*model, replicas, images, labels, e, &correct);
    REQUIRE(loss.ok());
    CHECK(std::abs(*loss - want_loss) < 1e-5 * std::abs(want_loss));
    CHECK(correct == want_correct);
    const auto params = model->params();
    for (size_t k = 0; k < params.size(); ++k) {
      INFO(params[k]->name);
      const double scale = std::max(1e-12, static_cast<double>(want[k].cwiseAbs().maxCoeff()));
      CHECK((params[k]->grad - want[k]).cwiseAbs().maxCoeff() / scale < 1e-4);
    }
  }
  std::vector<Model> none;
  int64_t c = 0;
  CHECK(BatchGradients(*model, none, images, {1, 2}, e, &c).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("MNIST idx files: good, truncated, corrupt and mismatched", "[cnn][dataset]") {
  const std::string dir = TmpPath("idx-test");
  std::system(("mkdir -p " + dir).c_str());
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream f(dir + "/" + name, std::ios::binary);
    f << bytes;
  };
  auto be = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  std::string img = be(0x803) + be(2) + be(2) + be(3);
  for (int i = 0; i < 12; ++i) img.push_back(static_cast<char>(i * 20));
  const std::string lab = be(0x801) + be(2) + std::string{3, 9};
  write("img", img);
  write("lab", lab);
  auto d = LoadIdx(dir + "/img", dir + "/lab");
  REQUIRE(d.ok());
  CHECK(d->size() == 2);
  CHECK(d->images.cols() == 6);
  CHECK(d->images(1, 5) == Approx(220.0 / 255.0));
  CHECK(d->labels == std::vector<int32_t>{3, 9});
  write("short", img.substr(0, img.size() - 1));
  CHECK(LoadIdx(dir + "/short", dir + "/lab").status().code() == absl::StatusCode::kDataLoss);
  write("badmagic", be(0x1234) + img.substr(4));
  CHECK(LoadIdx(dir + "/badmagic", dir + "/lab").status().code() == absl::StatusCode::kInvalidArgument);
  write("lab3", be(0x801) + be(3) + std::string{1, 2, 3});
  CHECK(LoadIdx(dir + "/img", dir + "/lab3").status().code() == absl::StatusCode::kInvalidArgument);
  write("badlabel", be(0x801) + be(2) + std::string{1, 12});
  CHECK(LoadIdx(dir + "/img", dir + "/badlabel").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(LoadIdx(dir + "/none", dir + "/lab").status().code() == absl::StatusCode::kNotFound);
  // gzip: the same bytes compressed read the same; a cut stream is an error.
  std::system(("gzip -kf " + dir + "/img").c_str());
  auto gz = LoadIdx(dir + "/img.gz", dir + "/lab");
  REQUIRE(gz.ok());
  CHECK(gz->images == d->images);
  std::system(("head -c 20 " + dir + "/img.gz > " + dir + "/cut.gz").c_str());
  CHECK_FALSE(LoadIdx(dir + "/cut.gz", dir + "/lab").ok());
}

TEST_CASE("Fashion-MNIST from the Debian package loads", "[cnn][dataset]") {
  auto d = LoadMnistDir(kFashionMnistDir, "test", 100);
  if (!d.ok() && d.status().code() == absl::StatusCode::kNotFound) {
    WARN("dataset-fashion-mnist is not installed; skipped");
    return;
  }
  REQUIRE(d.ok());
  CHECK(d->size() == 100);
  CHECK(d->h == 28);
  CHECK(d->images.maxCoeff() <= 1.0f);
  CHECK(d->images.minCoeff() >= 0.0f);
}

}  // namespace
}  // namespace codedge::cnn

namespace codedge::cnn {
namespace {

Dataset SyntheticData(int64_t n, uint64_t seed) {
  Pcg32 rng(seed, 3);
  Dataset d;
  d.h = d.w = 28;
  d.c = 1;
  d.classes = 10;
  d.images = RandomUniformMatrix(n, 28 * 28, rng, 0, 1);
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(rng.UniformInt(10)));
  return d;
}

TEST_CASE("Learning-rate schedules: constant, linear and cosine over the run", "[cnn][trainer]") {
  for (const char* name : {"constant", "linear", "cosine"}) {
    auto s = ParseLrSchedule(name);
    REQUIRE(s.ok());
    CHECK(std::string(LrScheduleName(*s)) == name);
    CHECK(ScheduledLearningRate(0.1, *s, 0, 100) == 0.1);  // every schedule starts at the base rate
    double prev = 1e9;
    for (int64_t step = 0; step < 100; ++step) {  // never rises, never negative
      const double r = ScheduledLearningRate(0.1, *s, step, 100);
      CHECK(r <= prev);
      CHECK(r > 0);
      prev = r;
    }
  }
  CHECK(ScheduledLearningRate(0.1, LrSchedule::kConstant, 99, 100) == 0.1);
  CHECK(ScheduledLearningRate(0.1, LrSchedule::kLinear, 25, 100) == Approx(0.075));
  CHECK(ScheduledLearningRate(0.1, LrSchedule::kLinear, 99, 100) == Approx(0.001));
  CHECK(ScheduledLearningRate(0.1, LrSchedule::kCosine, 50, 100) == Approx(0.05));
  CHECK(ScheduledLearningRate(0.1, LrSchedule::kCosine, 100, 100) == Approx(0.0).margin(1e-12));
  CHECK(ParseLrSchedule("step").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseLrSchedule("").status().code() == absl::StatusCode::kInvalidArgument);

  // Train applies it: two linear-schedule batches move the weights as two
  // plain SGD steps at rates base and base / 2 do.
  const Dataset train = SyntheticData(10, 1), test = SyntheticData(5, 2);
  LocalEngine e;
  TrainOptions o;
  o.batch = 5;
  o.max_batches = 2;
  o.progress_seconds = 1e9;
  o.lr_schedule = LrSchedule::kLinear;
  o.sgd.learning_rate = 0.05;
  auto scheduled = Model::Create("vgg-mini", 4);
  REQUIRE(Train(*scheduled, train, test, e, o).ok());
  auto by_hand = Model::Create("vgg-mini", 4);
  std::vector<Model> none;
  for (int b = 0; b < 2; ++b) {
    Matrix images(5, train.images.cols());
    std::vector<int32_t> labels(5);
    const std::vector<int64_t> order = TrainingOrder(train.size(), o.seed, 0);
    for (int i = 0; i < 5; ++i) {
      images.row(i) = train.images.row(order[b * 5 + i]);
      labels[i] = train.labels[order[b * 5 + i]];
    }
    int64_t correct = 0;
    REQUIRE(BatchGradients(*by_hand, none, images, labels, e, &correct).ok());
    SgdOptions sgd = o.sgd;
    sgd.learning_rate = b == 0 ? 0.05 : 0.025;
    by_hand->Step(sgd);
  }
  auto a = scheduled->params(), h = by_hand->params();
  for (size_t k = 0; k < a.size(); ++k) CHECK(a[k]->value == h[k]->value);
}

TEST_CASE("A checkpointed and resumed run ends with the weights of an uninterrupted one", "[cnn][trainer]") {
  const Dataset train = SyntheticData(40, 1), test = SyntheticData(10, 2);
  LocalEngine e;
  TrainOptions o;
  o.lr_schedule = LrSchedule::kConstant;  // the "kill" below shortens the run, which a schedule would see
  o.batch = 5;
  o.progress_seconds = 1e9;
  o.max_batches = 6;
  auto straight = Model::Create("vgg-mini", 3);
  REQUIRE(Train(*straight, train, test, e, o).ok());

  const std::string ckpt = TmpPath("trainer-test.ckpt");
  std::remove(ckpt.c_str());
  TrainOptions first = o;
  first.max_batches = 3;  // "killed" after 3 batches, with a checkpoint every batch
  first.checkpoint_path = ckpt;
  first.checkpoint_every = 1;
  auto resumed = Model::Create("vgg-mini", 3);
  REQUIRE(Train(*resumed, train, test, e, first).ok());
  auto again = Model::Create("vgg-mini", 3);  // a fresh process: weights come from the file
  TrainOptions second = o;
  second.checkpoint_path = ckpt;
  second.resume = true;
  auto r = Train(*again, train, test, e, second);
  REQUIRE(r.ok());
  CHECK(r->batches == 3);
  auto a = straight->params(), b = again->params();
  for (size_t k = 0; k < a.size(); ++k) CHECK(a[k]->value == b[k]->value);

  // Weights files round-trip; a mismatched or truncated file is refused.
  const std::string w = TmpPath("trainer-test.weights");
  REQUIRE(SaveModel(*straight, w, false, Position{}).ok());
  auto loaded = Model::Create("vgg-mini", 99);
  REQUIRE(LoadModel(*loaded, w).ok());
  CHECK(loaded->params()[0]->value == straight->params()[0]->value);
  std::system(("head -c 1000 " + w + " > " + w + ".cut").c_str());
  CHECK(LoadModel(*loaded, w + ".cut").status().code() == absl::StatusCode::kDataLoss);
  CHECK(LoadModel(*loaded, "/tmp/does-not-exist.weights").status().code() == absl::StatusCode::kNotFound);
}

// LocalEngine (its chunking included) until `products` products have been
// made, then an error: a server killed mid-run. Counts the products made.
class DyingEngine final : public MatmulEngine {
 public:
  explicit DyingEngine(int64_t products) : left_(products) {}
  absl::StatusOr<Matrix> Multiply(ConstMatrixRef a, ConstMatrixRef b, ProductKind kind) override {
    if (left_-- <= 0) return absl::UnavailableError("killed");
    ++made_;
    return inner_.Multiply(a, b, kind);
  }
  absl::StatusOr<Matrix> MultiplyTransposedA(ConstMatrixRef a, ConstMatrixRef b, ProductKind kind) override {
    if (left_-- <= 0) return absl::UnavailableError("killed");
    ++made_;
    return inner_.MultiplyTransposedA(a, b, kind);
  }
  int64_t preferred_rows() const override { return inner_.preferred_rows(); }
  int64_t made() const { return made_; }

 private:
  LocalEngine inner_;
  int64_t left_;
  int64_t made_ = 0;
};

// The products of one training step under `o`: a 2-batch run makes one
// step's more than a 1-batch run (the final evaluation is the same in both).
int64_t ProductsPerStep(const Dataset& train, const Dataset& test, const TrainOptions& o, uint64_t model_seed) {
  auto made = [&](int64_t batches) -> int64_t {
    TrainOptions short_run = o;
    short_run.max_batches = batches;
    short_run.checkpoint_path.clear();
    DyingEngine counter(int64_t{1} << 40);
    auto m = Model::Create("vgg-mini", model_seed);
    if (!m.ok() || !Train(*m, train, test, counter, short_run).ok()) return -1;
    return counter.made();
  };
  return made(2) - made(1);
}

TEST_CASE("A run killed mid-way and resumed follows the same learning-rate schedule", "[cnn][trainer]") {
  const Dataset train = SyntheticData(40, 1), test = SyntheticData(10, 2);
  for (LrSchedule schedule : {LrSchedule::kLinear, LrSchedule::kCosine}) {
    TrainOptions o;
    o.lr_schedule = schedule;
    o.batch = 5;
    o.epochs = 2;  // 16 batches; the kill falls in the first epoch
    o.progress_seconds = 1e9;
    DyingEngine e(int64_t{1} << 40);  // never dies
    auto straight = Model::Create("vgg-mini", 5);
    REQUIRE(Train(*straight, train, test, e, o).ok());
    const int64_t per_step = ProductsPerStep(train, test, o, 5);
    REQUIRE(per_step > 0);

    const std::string ckpt = TmpPath("schedule-resume-test.ckpt");
    std::remove(ckpt.c_str());
    TrainOptions killed = o;
    killed.checkpoint_path = ckpt;
    killed.checkpoint_every = 1;
    auto first = Model::Create("vgg-mini", 5);
    DyingEngine dying(5 * per_step + 3);  // dies in batch 6
    CHECK(Train(*first, train, test, dying, killed).status().code() == absl::StatusCode::kUnavailable);
    auto again = Model::Create("vgg-mini", 5);
    TrainOptions resumed = killed;
    resumed.resume = true;
    auto r = Train(*again, train, test, e, resumed);
    REQUIRE(r.ok());
    CHECK(r->batches == 11);  // 5 were checkpointed before the kill
    auto a = straight->params(), b = again->params();
    for (size_t k = 0; k < a.size(); ++k) CHECK(a[k]->value == b[k]->value);
  }
}

TEST_CASE("A stop request between batches checkpoints the position and the resumed run ends as an uninterrupted one", "[cnn][trainer]") {
  const Dataset train = SyntheticData(40, 1), test = SyntheticData(10, 2);
  LocalEngine e;
  TrainOptions o;
  o.lr_schedule = LrSchedule::kLinear;
  o.batch = 5;
  o.epochs = 2;  // 16 batches; the stop falls in the second epoch
  o.progress_seconds = 1e9;
  auto straight = Model::Create("vgg-mini", 6);
  REQUIRE(Train(*straight, train, test, e, o).ok());

  const std::string ckpt = TmpPath("stop-test.ckpt");
  std::remove(ckpt.c_str());
  TrainOptions stopped = o;
  stopped.checkpoint_path = ckpt;
  stopped.checkpoint_every = 100;  // no regular checkpoint before the stop
  int asked = 0;
  stopped.should_stop = [&] { return ++asked > 10; };  // after 10 batches
  auto first = Model::Create("vgg-mini", 6);
  auto r1 = Train(*first, train, test, e, stopped);
  REQUIRE(r1.status().code() == absl::StatusCode::kCancelled);
  CHECK(absl::StrContains(r1.status().message(), "stopped after 10 batches"));
  CHECK(absl::StrContains(r1.status().message(), "epoch 2 batch 2"));
  auto again = Model::Create("vgg-mini", 6);
  TrainOptions resumed = o;
  resumed.checkpoint_path = ckpt;
  resumed.resume = true;
  auto r2 = Train(*again, train, test, e, resumed);
  REQUIRE(r2.ok());
  CHECK(r2->batches == 6);
  auto a = straight->params(), b = again->params();
  for (size_t k = 0; k < a.size(); ++k) CHECK(a[k]->value == b[k]->value);

  // Without a checkpoint path nothing is written, and the message says so.
  TrainOptions bare = o;
  bare.should_stop = [] { return true; };
  auto third = Model::Create("vgg-mini", 6);
  auto r3 = Train(*third, train, test, e, bare);
  REQUIRE(r3.status().code() == absl::StatusCode::kCancelled);
  CHECK(absl::StrContains(r3.status().message(), "nothing saved"));
}

TEST_CASE("Bad training options are refused before any work, unwritable output paths included", "[cnn][trainer]") {
  auto bad = [](auto change) {
    TrainOptions o;
    change(o);
    return CheckTrainOptions(o).code();
  };
  CHECK(CheckTrainOptions(TrainOptions{}).ok());
  CHECK(bad([](TrainOptions& o) { o.batch = 0; }) == absl::StatusCode::kInvalidArgument);
  CHECK(bad([](TrainOptions& o) { o.epochs = 0; }) == absl::StatusCode::kInvalidArgument);
  CHECK(bad([](TrainOptions& o) { o.sgd.learning_rate = std::nan(""); }) == absl::StatusCode::kInvalidArgument);
  CHECK(bad([](TrainOptions& o) { o.sgd.learning_rate = -1; }) == absl::StatusCode::kInvalidArgument);
  CHECK(bad([](TrainOptions& o) { o.sgd.learning_rate = 0; }) == absl::StatusCode::kInvalidArgument);
  CHECK(bad([](TrainOptions& o) { o.sgd.momentum = 1; }) == absl::StatusCode::kInvalidArgument);
  CHECK(bad([](TrainOptions& o) { o.sgd.momentum = -0.1; }) == absl::StatusCode::kInvalidArgument);
  CHECK(bad([](TrainOptions& o) { o.sgd.weight_decay = -1e-4; }) == absl::StatusCode::kInvalidArgument);
  CHECK(bad([](TrainOptions& o) { o.sgd.weight_decay = INFINITY; }) == absl::StatusCode::kInvalidArgument);
  CHECK(bad([](TrainOptions& o) { o.resume = true; }) == absl::StatusCode::kInvalidArgument);
  CHECK(bad([](TrainOptions& o) { o.weights_path = "/nonexistent-dir/w.bin"; }) ==
        absl::StatusCode::kInvalidArgument);
  CHECK(bad([](TrainOptions& o) { o.checkpoint_path = "/nonexistent-dir/c.bin"; }) ==
        absl::StatusCode::kInvalidArgument);
  // A writable path passes and is left as it was: no file, no .tmp.
  const std::string w = TmpPath("check-writable.weights");
  std::remove(w.c_str());
  CHECK(bad([&](TrainOptions& o) { o.weights_path = w; }) == absl::StatusCode::kOk);
  CHECK_FALSE(std::filesystem::exists(w));
  CHECK_FALSE(std::filesystem::exists(w + ".tmp"));
  // Train makes the same checks before its first batch.
  const Dataset train = SyntheticData(10, 1), test = SyntheticData(5, 2);
  LocalEngine e;
  TrainOptions o;
  o.batch = 5;
  o.weights_path = "/nonexistent-dir/w.bin";
  auto m = Model::Create("vgg-mini", 1);
  int asked = 0;
  o.should_stop = [&] { return ++asked > 100; };
  CHECK(Train(*m, train, test, e, o).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(asked == 0);
}

TEST_CASE("A resume that would bend the run is refused and an older checkpoint still resumes", "[cnn][trainer]") {
  const Dataset train = SyntheticData(40, 1), test = SyntheticData(10, 2);
  LocalEngine e;
  TrainOptions o;
  o.lr_schedule = LrSchedule::kLinear;
  o.batch = 5;
  o.max_batches = 6;
  o.progress_seconds = 1e9;
  auto straight = Model::Create("vgg-mini", 4);
  REQUIRE(Train(*straight, train, test, e, o).ok());

  const std::string ckpt = TmpPath("resume-shape-test.ckpt");
  std::remove(ckpt.c_str());
  TrainOptions first = o;
  first.checkpoint_path = ckpt;
  first.checkpoint_every = 3;
  {
    // 3 batches, then "killed": a 3-batch run of the same shape would record
    // another length, so stop it by the engine instead.
    auto m = Model::Create("vgg-mini", 4);
    DyingEngine dies(3 * ProductsPerStep(train, test, o, 4) + 1);
    REQUIRE(Train(*m, train, test, dies, first).status().code() == absl::StatusCode::kUnavailable);
  }
  auto resume_with = [&](TrainOptions r) {
    r.checkpoint_path = ckpt;
    r.resume = true;
    auto m = Model::Create("vgg-mini", 4);
    return std::make_pair(Train(*m, train, test, e, r), std::move(m));
  };
  TrainOptions longer = o;
  longer.max_batches = 8;
  auto bent = resume_with(longer).first;
  CHECK(bent.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(bent.status().message().find("6 batches in all") != absl::string_view::npos);
  TrainOptions other_batch = o;
  other_batch.batch = 4;
  CHECK(resume_with(other_batch).first.status().code() == absl::StatusCode::kInvalidArgument);
  TrainOptions other_schedule = o;
  other_schedule.lr_schedule = LrSchedule::kCosine;
  CHECK(resume_with(other_schedule).first.status().code() == absl::StatusCode::kInvalidArgument);
  TrainOptions other_rate = o;
  other_rate.sgd.learning_rate *= 2;
  CHECK(resume_with(other_rate).first.status().code() == absl::StatusCode::kInvalidArgument);

  // The same checkpoint as an older version wrote it (kind 2: no run shape,
  // documented in trainer.h) still resumes, to the uninterrupted weights.
  std::ifstream in(ckpt, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  REQUIRE(bytes.size() > 64);
  uint32_t kind = 0;
  std::memcpy(&kind, bytes.data() + 8, 4);
  REQUIRE(kind == 3);
  kind = 2;
  std::memcpy(bytes.data() + 8, &kind, 4);
  bytes.erase(8 + 4 + 3 * 8, 8 + 8 + 4 + 8);  // batch, total_batches, lr_schedule, learning_rate
  {
    std::ofstream f(ckpt, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto [r, again] = resume_with(o);
  REQUIRE(r.ok());
  CHECK(r->batches == 3);
  auto a = straight->params(), b = again->params();
  for (size_t k = 0; k < a.size(); ++k) CHECK(a[k]->value == b[k]->value);
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

TEST_CASE("Encrypted checkpoints reveal no weights, need the key, and refuse any change", "[cnn][trainer][security]") {
  const Dataset train = SyntheticData(20, 1), test = SyntheticData(10, 2);
  LocalEngine e;
  TrainOptions o;
  o.batch = 5;
  o.progress_seconds = 1e9;
  o.max_batches = 2;
  o.lr_schedule = LrSchedule::kConstant;  // the resume below trains on (a longer run): allowed at a constant rate
  o.checkpoint_every = 1;
  o.checkpoint_path = TmpPath("trainer-test-enc.ckpt");
  o.weights_path = TmpPath("trainer-test-enc.weights");
  AeadKey key, other;
  for (size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<uint8_t>(i * 7 + 1), other.bytes[i] = 9;
  o.key = key;
  auto model = Model::Create("vgg-mini", 3);
  REQUIRE(Train(*model, train, test, e, o).ok());
  for (const std::string& path : {o.checkpoint_path, o.weights_path}) {
    INFO(path);
    const std::string file = ReadAll(path);
    // Nothing of the plain layout is visible: no magic, no parameter name,
    // no run of any parameter's bytes.
    CHECK(file.find("CODEDGE1") == std::string::npos);
    CHECK(file.find(model->params()[0]->name) == std::string::npos);
    const Matrix& w0 = model->params()[0]->value;
    CHECK(file.find(std::string(reinterpret_cast<const char*>(w0.data()), 64)) == std::string::npos);
    auto loaded = Model::Create("vgg-mini", 99);
    CHECK(LoadModel(*loaded, path).status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(LoadModel(*loaded, path, &other).status().code() == absl::StatusCode::kDataLoss);
    REQUIRE(LoadModel(*loaded, path, &key).ok());
    for (size_t k = 0; k < model->params().size(); ++k) CHECK(loaded->params()[k]->value == model->params()[k]->value);
    // A changed byte anywhere (header, nonce, ciphertext, tag) is refused.
    for (size_t at : {size_t{3}, size_t{10}, size_t{14}, file.size() / 2, file.size() - 1}) {
      std::string changed = file;
      changed[at] = static_cast<char>(changed[at] ^ 0x40);
      std::ofstream(path + ".changed", std::ios::binary) << changed;
      CHECK_FALSE(LoadModel(*loaded, path + ".changed", &key).ok());
    }
  }
  // Resuming from the encrypted checkpoint works with the key.
  TrainOptions again = o;
  again.resume = true;
  again.max_batches = 3;
  auto resumed = Model::Create("vgg-mini", 3);
  auto r = Train(*resumed, train, test, e, again);
  REQUIRE(r.ok());
  CHECK(r->batches == 1);
}

}  // namespace
}  // namespace codedge::cnn

namespace codedge::cnn {
namespace {

TEST_CASE("CIFAR-10 binary records load as NHWC images; bad files are refused", "[cnn][dataset]") {
  const std::string dir = TmpPath("cifar-test");
  std::system(("mkdir -p " + dir).c_str());
  std::string rec(3073, '\0');
  rec[0] = 7;
  rec[1 + 0 * 1024 + 5] = static_cast<char>(255);  // R of pixel 5
  rec[1 + 2 * 1024 + 5] = static_cast<char>(51);   // B of pixel 5
  std::string rec2 = rec;
  rec2[0] = 2;
  std::ofstream(dir + "/a.bin", std::ios::binary) << rec;
  std::ofstream(dir + "/b.bin", std::ios::binary) << rec2;
  auto d = LoadCifar10({dir + "/a.bin", dir + "/b.bin"});
  REQUIRE(d.ok());
  CHECK(d->size() == 2);
  CHECK(d->labels == std::vector<int32_t>{7, 2});
  CHECK(d->images.cols() == 3072);
  CHECK(d->images(0, 5 * 3 + 0) == 1.0f);                 // R
  CHECK(d->images(0, 5 * 3 + 2) == Approx(51.0 / 255.0));  // B
  CHECK(d->images(0, 5 * 3 + 1) == 0.0f);                 // G
  std::ofstream(dir + "/short.bin", std::ios::binary) << rec.substr(0, 3000);
  CHECK(LoadCifar10({dir + "/short.bin"}).status().code() == absl::StatusCode::kDataLoss);
  std::string badlabel = rec;
  badlabel[0] = 12;
  std::ofstream(dir + "/bad.bin", std::ios::binary) << badlabel;
  CHECK(LoadCifar10({dir + "/bad.bin"}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(LoadCifar10({}).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("VGG-style stacks: VGG-11 for CIFAR and a small stack whose gradients are checked", "[cnn][gradient]") {
  auto vgg11 = Model::Create("vgg11", 1);
  REQUIRE(vgg11.ok());
  int64_t weights = 0;
  for (Param* p : vgg11->params()) weights += p->value.size();
  // convs: 3*64*9 + 64*128*9 + 128*256*9 + 256*256*9 + 256*512*9 + 3 * 512*512*9, plus FCs and biases
  CHECK(weights == 9220480 + 262656 + 5130);
  CHECK(vgg11->input().c == 3);
  auto small = Model::Create("vgg:8,8,2:4,M,8:16,10", 2);
  REQUIRE(small.ok());
  Pcg32 rng(9, 1);
  const Matrix images = RandomUniformMatrix(3, 8 * 8 * 2, rng, 0, 1);
  CHECK(CheckModelGradients(*small, images, {1, 5, 9}, rng, 4, /*largest_first=*/false, 0.0) >= 10);
  for (const char* bad : {"resnet", "vgg:8,8:4:10", "vgg:8,8,2:4,X:10", "vgg:2,2,1:M,M:10", "vgg:8,8,1:4:1"}) {
    INFO(bad);
    CHECK(Model::Create(bad, 1).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace codedge::cnn
