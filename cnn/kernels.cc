#include "cnn/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

// Run-time dispatch: an AVX2 build of each hot kernel beside the baseline
// one (GCC function multi-versioning; glibc picks at load time).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define CODEDGE_VECTOR_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define CODEDGE_VECTOR_KERNEL
#endif

namespace codedge::cnn {

CODEDGE_VECTOR_KERNEL Matrix MaxPool(ConstMatrixRef x, const PoolGeometry& g, std::vector<int32_t>* argmax) {
  const int64_t oh = g.out_h(), ow = g.out_w(), c = g.c;
  Matrix y(g.n * oh * ow, c);
  argmax->assign(static_cast<size_t>(y.size()), 0);
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t py = 0; py < oh; ++py) {
      for (int64_t px = 0; px < ow; ++px) {
        const int64_t out = (n * oh + py) * ow + px;
        float* __restrict best = y.row(out).data();
        int32_t* __restrict at = argmax->data() + out * c;
        // The window's pixels in order; per channel the first maximum wins
        // (whole rows at a time: the channels are contiguous).
        for (int64_t i = 0; i < g.size; ++i) {
          for (int64_t j = 0; j < g.size; ++j) {
            const int64_t in = (n * g.h + py * g.size + i) * g.w + px * g.size + j;
            const float* __restrict v = x.row(in).data();
            const int32_t in32 = static_cast<int32_t>(in);
            if (i == 0 && j == 0) {
              for (int64_t ch = 0; ch < c; ++ch) {
                best[ch] = v[ch];
                at[ch] = in32;
              }
              continue;
            }
            for (int64_t ch = 0; ch < c; ++ch) {
              const bool more = v[ch] > best[ch];
              best[ch] = more ? v[ch] : best[ch];
              at[ch] = more ? in32 : at[ch];
            }
          }
        }
      }
    }
  }
  return y;
}

Matrix MaxPoolBackward(ConstMatrixRef dy, const PoolGeometry& g, const std::vector<int32_t>& argmax) {
  Matrix dx = Matrix::Zero(g.n * g.h * g.w, g.c);
  for (int64_t r = 0; r < dy.rows(); ++r) {
    for (int64_t ch = 0; ch < g.c; ++ch) dx(argmax[r * g.c + ch], ch) += dy(r, ch);
  }
  return dx;
}

CODEDGE_VECTOR_KERNEL Matrix Relu(ConstMatrixRef x) { return x.cwiseMax(0.0f); }

CODEDGE_VECTOR_KERNEL Matrix ReluBackward(ConstMatrixRef y, ConstMatrixRef dy) {
  return (y.array() > 0.0f).select(dy, 0.0f);
}

void AddBias(MatrixRef z, ConstMatrixRef b) { z.rowwise() += b.row(0); }

double SoftmaxCrossEntropy(ConstMatrixRef logits, const std::vector<int32_t>& labels, Matrix* dlogits,
                           int64_t* correct) {
  const int64_t n = logits.rows(), k = logits.cols();
  dlogits->resize(n, k);
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    Eigen::Index best;
    const float mx = logits.row(i).maxCoeff(&best);
    if (best == labels[i]) ++*correct;
    double sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(logits(i, j) - mx));
    const double log_sum = std::log(sum);
    loss -= static_cast<double>(logits(i, labels[i]) - mx) - log_sum;
    for (int64_t j = 0; j < k; ++j) {
      const double p = std::exp(static_cast<double>(logits(i, j) - mx) - log_sum);
      (*dlogits)(i, j) = static_cast<float>((p - (j == labels[i] ? 1.0 : 0.0)) / static_cast<double>(n));
    }
  }
  return loss / static_cast<double>(n);
}

}  // namespace codedge::cnn
