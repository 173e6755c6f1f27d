// A convolution's products as RowOp jobs see them (common/row_op.h): one
// image (or one image's output gradient) per row, and the expected results
// computed for the whole batch at once, in double, by the kernels a layer
// uses locally (Im2Col/Col2Im are themselves checked against a direct
// convolution in tests/common/row_op_test.cc and tests/cnn).
#ifndef CODEDGE_TESTS_CONV_CASE_H_
#define CODEDGE_TESTS_CONV_CASE_H_

#include <cstdint>

#include "common/im2col.h"
#include "common/matrix_util.h"
#include "common/random.h"
#include "common/row_op.h"

namespace codedge {

struct ConvCase {
  ConvGeometry g;  // one image's (g.n = 1)
  int64_t images = 0, filters = 0;
  Matrix x, w, wt, dz;     // images x H*W*C, patch x F, F x patch, images x OH*OW*F
  // The weight gradient's operands: the batch's channels (C x images*H*W)
  // and dz as pixels (images*OH*OW x F).
  Matrix channels, dz_pixels;
  MatrixD z_want, dx_want, dw_want;  // (images*OH*OW, F), (images*H*W, C), (patch, F)
  RowOp fwd, bwd, wgt;

  static ConvCase Make(const ConvGeometry& g, int64_t images, int64_t filters, Pcg32& rng) {
    ConvCase c;
    c.g = g;
    c.images = images;
    c.filters = filters;
    const int64_t pixels = g.h * g.w, out_pixels = g.out_h() * g.out_w();
    c.x = RandomUniformMatrix(images, pixels * g.c, rng);
    c.w = RandomUniformMatrix(g.patch(), filters, rng);
    c.wt = c.w.transpose();
    c.dz = RandomUniformMatrix(images, out_pixels * filters, rng);
    ConvGeometry batch = g;
    batch.n = images;
    c.z_want = Im2Col(Eigen::Map<const Matrix>(c.x.data(), images * pixels, g.c), batch).cast<double>() *
               c.w.cast<double>();
    const Matrix dcols = Eigen::Map<const Matrix>(c.dz.data(), images * out_pixels, filters) * c.wt;
    c.dx_want = Col2Im(dcols, batch).cast<double>();
    const Eigen::Map<const Matrix> pixels_x(c.x.data(), images * pixels, g.c);
    c.channels = pixels_x.transpose();
    c.dz_pixels = Eigen::Map<const Matrix>(c.dz.data(), images * out_pixels, filters);
    c.dw_want = Im2Col(pixels_x, batch).cast<double>().transpose() * c.dz_pixels.cast<double>();
    c.fwd = RowOp{RowOp::Kind::kIm2colProduct, g};
    c.bwd = RowOp{RowOp::Kind::kProductCol2im, g};
    c.wgt = RowOp{RowOp::Kind::kIm2colTransposedProduct, batch};
    c.wgt.conv.c = 1;
    return c;
  }
  // A product of the forward op (images rows) read as (images*OH*OW, F),
  // and of the backward op read as (images*H*W, C).
  Eigen::Map<const Matrix> AsOutputPixels(const Matrix& z) const {
    return Eigen::Map<const Matrix>(z.data(), images * g.out_h() * g.out_w(), filters);
  }
  Eigen::Map<const Matrix> AsInputPixels(const Matrix& dx) const {
    return Eigen::Map<const Matrix>(dx.data(), images * g.h * g.w, g.c);
  }
  // A product of the weight-gradient op (row c: channel c's KH*KW x F
  // block) as the gradient (patch x F, rows (offset, c)).
  Matrix AsWeightGradient(const Matrix& d) const {
    const int64_t offsets = g.kh * g.kw;
    Matrix dw(g.patch(), filters);
    for (int64_t ch = 0; ch < g.c; ++ch)
      for (int64_t i = 0; i < offsets; ++i) dw.row(i * g.c + ch) = d.row(ch).segment(i * filters, filters);
    return dw;
  }
};

}  // namespace codedge

#endif  // CODEDGE_TESTS_CONV_CASE_H_
