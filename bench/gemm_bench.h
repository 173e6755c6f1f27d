// `edge-bench gemm`: local float32 product time for given shapes, to choose
// between Eigen's own GEMM and OpenBLAS underneath (CODEDGE_USE_BLAS).
#ifndef CODEDGE_BENCH_GEMM_BENCH_H_
#define CODEDGE_BENCH_GEMM_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace codedge::bench {

struct GemmShape {
  int64_t m = 0, k = 0, n = 0;  // (m x k) . (k x n)
};

// Parses "MxKxN[,MxKxN...]"; InvalidArgument on anything else.
absl::StatusOr<std::vector<GemmShape>> ParseGemmShapes(const std::string& text);

struct GemmRow {
  GemmShape shape;
  int threads = 1;
  double median_s = 0, gflops = 0;
};

absl::StatusOr<std::vector<GemmRow>> RunGemmBench(const std::vector<GemmShape>& shapes, int threads, int repeats,
                                                 uint64_t seed);
void PrintGemmTable(const std::vector<GemmRow>& rows, std::ostream& out);

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_GEMM_BENCH_H_
