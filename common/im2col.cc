#include "common/im2col.h"

// Run-time dispatch: an AVX2 build of each kernel beside the baseline one
// (GCC function multi-versioning; glibc picks at load time).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define CODEDGE_VECTOR_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define CODEDGE_VECTOR_KERNEL
#endif

namespace codedge {

// Both walk the im2col rows kernel row by kernel row: the kw pixels under
// one kernel row are consecutive rows of x, so when they are all inside the
// image their kw * C values are one contiguous run in x and in the im2col
// row; only border positions go pixel by pixel (padding: zeros).
CODEDGE_VECTOR_KERNEL void Im2ColInto(ConstMatrixRef x, const ConvGeometry& g, MatrixRef cols) {
  const int64_t oh = g.out_h(), ow = g.out_w(), c = g.c, run = g.kw * c;
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t xo = 0; xo < ow; ++xo) {
        float* __restrict row = cols.row((n * oh + y) * ow + xo).data();
        const int64_t ix0 = xo * g.stride - g.pad;
        for (int64_t i = 0; i < g.kh; ++i) {
          float* __restrict dst = row + i * run;
          const int64_t iy = y * g.stride + i - g.pad;
          if (iy < 0 || iy >= g.h) {
            for (int64_t e = 0; e < run; ++e) dst[e] = 0.0f;
            continue;
          }
          const int64_t pixel0 = (n * g.h + iy) * g.w;
          if (ix0 >= 0 && ix0 + g.kw <= g.w) {
            const float* __restrict src = x.row(pixel0 + ix0).data();
            for (int64_t e = 0; e < run; ++e) dst[e] = src[e];
            continue;
          }
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t ix = ix0 + j;
            float* __restrict d = dst + j * c;
            if (ix < 0 || ix >= g.w) {
              for (int64_t ch = 0; ch < c; ++ch) d[ch] = 0.0f;
            } else {
              const float* __restrict src = x.row(pixel0 + ix).data();
              for (int64_t ch = 0; ch < c; ++ch) d[ch] = src[ch];
            }
          }
        }
      }
    }
  }
}

CODEDGE_VECTOR_KERNEL void Col2ImInto(ConstMatrixRef dcols, const ConvGeometry& g, MatrixRef dx) {
  const int64_t oh = g.out_h(), ow = g.out_w(), c = g.c, run = g.kw * c;
  dx.setZero();
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t xo = 0; xo < ow; ++xo) {
        const float* __restrict row = dcols.row((n * oh + y) * ow + xo).data();
        const int64_t ix0 = xo * g.stride - g.pad;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t iy = y * g.stride + i - g.pad;
          if (iy < 0 || iy >= g.h) continue;
          const float* __restrict src = row + i * run;
          const int64_t pixel0 = (n * g.h + iy) * g.w;
          if (ix0 >= 0 && ix0 + g.kw <= g.w) {
            float* __restrict dst = dx.row(pixel0 + ix0).data();
            for (int64_t e = 0; e < run; ++e) dst[e] += src[e];
            continue;
          }
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t ix = ix0 + j;
            if (ix < 0 || ix >= g.w) continue;
            float* __restrict dst = dx.row(pixel0 + ix).data();
            for (int64_t ch = 0; ch < c; ++ch) dst[ch] += src[j * c + ch];
          }
        }
      }
    }
  }
}

CODEDGE_VECTOR_KERNEL void ChannelShiftsInto(const float* x, const ConvGeometry& g, MatrixRef out) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  for (int64_t i = 0; i < g.kh; ++i) {
    for (int64_t j = 0; j < g.kw; ++j) {
      float* __restrict row = out.row(i * g.kw + j).data();
      // Output columns whose input column ox*stride + j - pad is inside.
      int64_t lo = 0, hi = ow;
      while (lo < ow && lo * g.stride + j - g.pad < 0) ++lo;
      while (hi > lo && (hi - 1) * g.stride + j - g.pad >= g.w) --hi;
      for (int64_t n = 0; n < g.n; ++n) {
        for (int64_t y = 0; y < oh; ++y) {
          float* __restrict dst = row + (n * oh + y) * ow;
          const int64_t iy = y * g.stride + i - g.pad;
          if (iy < 0 || iy >= g.h) {
            for (int64_t e = 0; e < ow; ++e) dst[e] = 0.0f;
            continue;
          }
          const float* __restrict src = x + (n * g.h + iy) * g.w + j - g.pad;
          for (int64_t e = 0; e < lo; ++e) dst[e] = 0.0f;
          if (g.stride == 1) {
            for (int64_t e = lo; e < hi; ++e) dst[e] = src[e];
          } else {
            for (int64_t e = lo; e < hi; ++e) dst[e] = src[e * g.stride];
          }
          for (int64_t e = hi; e < ow; ++e) dst[e] = 0.0f;
        }
      }
    }
  }
}

Matrix Im2Col(ConstMatrixRef x, const ConvGeometry& g) {
  Matrix cols(g.n * g.out_h() * g.out_w(), g.patch());
  Im2ColInto(x, g, cols);
  return cols;
}

Matrix Col2Im(ConstMatrixRef dcols, const ConvGeometry& g) {
  Matrix dx(g.n * g.h * g.w, g.c);
  Col2ImInto(dcols, g, dx);
  return dx;
}

}  // namespace codedge
