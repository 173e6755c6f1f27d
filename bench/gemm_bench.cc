#include "bench/gemm_bench.h"

#include "bench/stats.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/linalg.h"
#include "common/matrix.h"
#include "common/matrix_util.h"
#include "common/random.h"

namespace codedge::bench {

absl::StatusOr<std::vector<GemmShape>> ParseGemmShapes(const std::string& text) {
  std::vector<GemmShape> shapes;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> dims = absl::StrSplit(part, 'x');
    GemmShape s;
    if (dims.size() != 3 || !absl::SimpleAtoi(dims[0], &s.m) || !absl::SimpleAtoi(dims[1], &s.k) ||
        !absl::SimpleAtoi(dims[2], &s.n) || s.m < 1 || s.k < 1 || s.n < 1) {
      return absl::InvalidArgumentError(absl::StrCat("bad shape '", part, "': want MxKxN with positive sizes"));
    }
    shapes.push_back(s);
  }
  if (shapes.empty()) return absl::InvalidArgumentError("no shapes given");
  return shapes;
}

absl::StatusOr<std::vector<GemmRow>> RunGemmBench(const std::vector<GemmShape>& shapes, int threads, int repeats,
                                                 uint64_t seed) {
  if (repeats < 1) return absl::InvalidArgumentError("--repeats must be >= 1");
  SetComputeThreads(threads);
  Pcg32 rng(seed, 0x67656d6d);  // "gemm"
  std::vector<GemmRow> rows;
  for (const GemmShape& s : shapes) {
    const Matrix a = RandomUniformMatrix(s.m, s.k, rng), b = RandomUniformMatrix(s.k, s.n, rng);
    // Verify once against a double product before timing.
    Matrix c = a * b;
    const double err = RelativeError(c, a.cast<double>() * b.cast<double>());
    if (!(err < 1e-4)) return absl::InternalError(absl::StrCat("product error ", err));
    std::vector<double> t;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      c.noalias() = a * b;
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    GemmRow row{s, threads, Median(t), 0};
    row.gflops = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.k) * static_cast<double>(s.n) / row.median_s / 1e9;
    rows.push_back(row);
  }
  return rows;
}

void PrintGemmTable(const std::vector<GemmRow>& rows, std::ostream& out) {
  out << absl::StrFormat("backend %s\n%24s %8s %12s %10s\n", LinalgBackend(), "shape (MxKxN)", "threads", "median ms",
                         "GFLOP/s");
  for (const GemmRow& r : rows) {
    out << absl::StrFormat("%24s %8d %12.3f %10.2f\n", absl::StrCat(r.shape.m, "x", r.shape.k, "x", r.shape.n),
                           r.threads, 1e3 * r.median_s, r.gflops);
  }
}

}  // namespace codedge::bench
