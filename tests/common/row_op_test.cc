// RowOp (common/row_op.h): what a worker computes from a task's rows. The
// convolution kinds are checked against direct convolutions written out
// here in double (not through Im2Col), per image.
#include <catch2/catch.hpp>

#include "common/matrix_util.h"
#include "common/random.h"
#include "common/row_op.h"

namespace codedge {
namespace {

// Calls tap(out_pixel, offset, in_pixel) for every output pixel (oy, ox)
// of one image, kernel offset (i, j) and the input pixel (iy, ix) under it,
// padding skipped: the whole of a convolution's index arithmetic, written
// out the direct way (pixels and offsets as row-major indices).
template <typename Tap>
void ForEachTap(const ConvGeometry& g, Tap tap) {
  for (int64_t y = 0; y < g.out_h(); ++y)
    for (int64_t xo = 0; xo < g.out_w(); ++xo)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j) {
          const int64_t iy = y * g.stride + i - g.pad, ix = xo * g.stride + j - g.pad;
          if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
          tap(y * g.out_w() + xo, i * g.kw + j, iy * g.w + ix);
        }
}

// One image x (H*W*C values, NHWC), filters w ((kh, kw, c) x F): the output
// (OH*OW*F values, (oy, ox, f)).
MatrixD DirectConv(const float* x, const Matrix& w, const ConvGeometry& g) {
  const int64_t f = w.cols();
  MatrixD z = MatrixD::Zero(1, g.out_h() * g.out_w() * f);
  ForEachTap(g, [&](int64_t out, int64_t offset, int64_t in) {
    for (int64_t o = 0; o < f; ++o)
      for (int64_t c = 0; c < g.c; ++c) z(0, out * f + o) += static_cast<double>(x[in * g.c + c]) * w(offset * g.c + c, o);
  });
  return z;
}

// One image's output gradient dz (OH*OW*F values) and the filters
// transposed wt (F x (kh, kw, c)): the input gradient (H*W*C values), each
// input pixel summing every output position whose patch covers it.
MatrixD DirectInputGradient(const float* dz, const Matrix& wt, const ConvGeometry& g) {
  const int64_t f = wt.rows();
  MatrixD dx = MatrixD::Zero(1, g.h * g.w * g.c);
  ForEachTap(g, [&](int64_t out, int64_t offset, int64_t in) {
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t o = 0; o < f; ++o) dx(0, in * g.c + c) += static_cast<double>(dz[out * f + o]) * wt(o, offset * g.c + c);
  });
  return dx;
}

const ConvGeometry kGeometries[] = {
    ConvGeometry{1, 5, 6, 3, 3, 3, 1, 1}, ConvGeometry{1, 7, 7, 2, 3, 3, 2, 0}, ConvGeometry{1, 4, 4, 1, 1, 1, 1, 0},
    ConvGeometry{1, 6, 5, 4, 5, 5, 1, 2}, ConvGeometry{1, 3, 3, 16, 3, 3, 1, 1}, ConvGeometry{1, 9, 8, 2, 3, 2, 3, 1},
};

TEST_CASE("A task's convolution rows give each image's direct convolution and input gradient", "[row_op]") {
  Pcg32 rng(31, 7);
  for (const ConvGeometry& g : kGeometries) {
    INFO("image " << g.h << "x" << g.w << "x" << g.c << ", kernel " << g.kh << "x" << g.kw << ", stride "
                  << g.stride << ", pad " << g.pad);
    const int64_t images = 5, filters = 4;
    const int64_t in_cols = g.h * g.w * g.c, out_cols = g.out_h() * g.out_w() * filters;
    const RowOp fwd{RowOp::Kind::kIm2colProduct, g}, bwd{RowOp::Kind::kProductCol2im, g};
    const Matrix w = RandomUniformMatrix(g.patch(), filters, rng);
    const Matrix wt = w.transpose();
    REQUIRE(CheckRowOp(fwd, in_cols, w.rows(), w.cols()).ok());
    REQUIRE(CheckRowOp(bwd, out_cols, wt.rows(), wt.cols()).ok());
    CHECK(fwd.OutCols(filters) == out_cols);
    CHECK(bwd.OutCols(g.patch()) == in_cols);
    CHECK(fwd.MacsPerRow(in_cols, filters) == g.out_h() * g.out_w() * g.patch() * filters);
    CHECK(bwd.MacsPerRow(out_cols, g.patch()) == g.out_h() * g.out_w() * filters * g.patch());

    // The rows as a strided block of a wider matrix: ApplyRowOp must not
    // assume contiguous rows.
    const Matrix wide = RandomUniformMatrix(images, in_cols + 3, rng);
    const auto x = wide.leftCols(in_cols);
    Matrix z(images, out_cols), scratch;
    ApplyRowOp(fwd, x, w, Eigen::Map<Matrix>(z.data(), images, out_cols), scratch);
    const Matrix dz = RandomUniformMatrix(images, out_cols, rng);
    Matrix dx(images, in_cols);
    ApplyRowOp(bwd, dz, wt, Eigen::Map<Matrix>(dx.data(), images, in_cols), scratch);
    for (int64_t n = 0; n < images; ++n) {
      const Matrix image = x.row(n);
      CHECK(RelativeError(z.row(n), DirectConv(image.data(), w, g)) < 1e-5);
      CHECK(RelativeError(dx.row(n), DirectInputGradient(dz.row(n).data(), wt, g)) < 1e-5);
    }

    // Linear in the rows, which is all a code needs: a coded image's
    // result is the same combination of the images' results.
    const Matrix coded = 2.0f * x.row(0) - x.row(3) + x.row(4);
    Matrix zc(1, out_cols);
    ApplyRowOp(fwd, coded, w, Eigen::Map<Matrix>(zc.data(), 1, out_cols), scratch);
    const MatrixD want = 2.0 * z.row(0).cast<double>() - z.row(3).cast<double>() + z.row(4).cast<double>();
    CHECK(RelativeError(zc, want) < 1e-5);
  }
}

TEST_CASE("A task's channel rows give each channel's part of the direct weight gradient", "[row_op]") {
  Pcg32 rng(32, 7);
  for (const ConvGeometry& image : kGeometries) {
    INFO("image " << image.h << "x" << image.w << "x" << image.c << ", kernel " << image.kh << "x" << image.kw
                  << ", stride " << image.stride << ", pad " << image.pad);
    const int64_t images = 3, filters = 4, pixels = image.h * image.w, out_pixels = image.out_h() * image.out_w();
    const Matrix x = RandomUniformMatrix(images * pixels, image.c, rng);  // NHWC pixels
    const Matrix dz = RandomUniformMatrix(images * out_pixels, filters, rng);
    RowOp op{RowOp::Kind::kIm2colTransposedProduct, image};
    op.conv.n = images;
    op.conv.c = 1;
    REQUIRE(CheckRowOp(op, images * pixels, dz.rows(), filters).ok());
    CHECK(op.OutCols(filters) == image.kh * image.kw * filters);
    const Matrix channels = x.transpose();
    Matrix d(image.c, op.OutCols(filters)), scratch;
    ApplyRowOp(op, channels, dz, Eigen::Map<Matrix>(d.data(), d.rows(), d.cols()), scratch);
    // dW((i, j, c), f) = sum over images and output pixels of the input
    // under kernel offset (i, j) times dz.
    for (int64_t c = 0; c < image.c; ++c) {
      MatrixD want = MatrixD::Zero(1, d.cols());
      for (int64_t n = 0; n < images; ++n) {
        ForEachTap(image, [&](int64_t out, int64_t offset, int64_t in) {
          for (int64_t f = 0; f < filters; ++f) {
            want(0, offset * filters + f) +=
                static_cast<double>(x(n * pixels + in, c)) * dz(n * out_pixels + out, f);
          }
        });
      }
      CHECK(RelativeError(d.row(c), want) < 1e-5);
    }
    CHECK(CheckRowOp(op, images * pixels, dz.rows() - 1, filters).code() == absl::StatusCode::kInvalidArgument);
    RowOp two_channels = op;
    two_channels.conv.c = 2;
    CHECK(CheckRowOp(two_channels, images * pixels, dz.rows(), filters).code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("Row operations that do not fit their operands are refused clearly", "[row_op][bad-input]") {
  const ConvGeometry g{1, 6, 6, 2, 3, 3, 1, 1};
  const RowOp fwd{RowOp::Kind::kIm2colProduct, g}, bwd{RowOp::Kind::kProductCol2im, g};
  CHECK(CheckRowOp(RowOp(), 5, 5, 3).ok());
  CHECK(CheckRowOp(RowOp(), 5, 4, 3).code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckRowOp(fwd, 72, 18, 4).ok());
  CHECK(CheckRowOp(bwd, 36 * 4, 4, 18).ok());
  struct Case {
    const char* what;
    RowOp op;
    int64_t a_cols, b_rows, b_cols;
    const char* says;
  };
  auto with = [](RowOp op, auto&& change) {
    change(op.conv);
    return op;
  };
  const Case cases[] = {
      {"rows of the wrong length", fwd, 71, 18, 4, "takes rows of 72"},
      {"B with the wrong rows", fwd, 72, 17, 4, "needs 18 rows"},
      {"B^T with the wrong columns", bwd, 36 * 4, 4, 17, "needs 18 columns"},
      {"gradient rows of the wrong length", bwd, 36 * 4 + 1, 4, 18, "takes rows of 144"},
      {"stride 0", with(fwd, [](ConvGeometry& c) { c.stride = 0; }), 72, 18, 4, "every size"},
      {"no channels", with(fwd, [](ConvGeometry& c) { c.c = 0; }), 0, 0, 4, "every size"},
      {"padding as large as the kernel", with(fwd, [](ConvGeometry& c) { c.pad = 3; }), 72, 18, 4, "padding"},
      {"negative padding", with(fwd, [](ConvGeometry& c) { c.pad = -1; }), 72, 18, 4, "padding"},
      {"a kernel wider than the padded image", with(fwd, [](ConvGeometry& c) { c.kw = 9; }), 72, 54, 4, "fit"},
      {"an image too large", with(fwd, [](ConvGeometry& c) { c.h = c.w = 1 << 14; }), 1 << 29, 18, 4, "too large"},
      {"a row of 2^32.2 multiply-adds (cancels are noticed between rows)",
       with(fwd,
            [](ConvGeometry& c) {
              c.h = c.w = 64;
              c.c = 16;
            }),
       64 * 64 * 16, 144, 8192, "multiply-adds"},
      // 2^32 output pixels of 2^48 values each: 2^80, which wraps to 0 in
      // int64 arithmetic.
      {"im2col rows too large",
       with(fwd,
            [](ConvGeometry& c) {
              c.h = c.w = 1;
              c.c = c.kh = c.kw = 1 << 16;
              c.pad = (1 << 16) - 1;
            }),
       1 << 16, 18, 4, "too large"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const absl::Status s = CheckRowOp(c.op, c.a_cols, c.b_rows, c.b_cols);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.message()), Catch::Contains(c.says));
  }
}

}  // namespace
}  // namespace codedge
