// Helpers shared by the codes tests: random data, the oracle (the plain
// product A·B in double) and a driver that plays server and workers.
#ifndef CODEDGE_TESTS_CODES_TEST_UTIL_H_
#define CODEDGE_TESTS_CODES_TEST_UTIL_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "codes/code.h"
#include "common/matrix.h"
#include "common/matrix_util.h"
#include "common/random.h"

namespace codedge::testing {

inline Matrix RandomMatrix(int64_t rows, int64_t cols, Pcg32& rng) { return RandomUniformMatrix(rows, cols, rng); }

// The oracle: A·B computed in double from the float inputs.
inline MatrixD ExactProduct(const Matrix& a, const Matrix& b) { return a.cast<double>() * b.cast<double>(); }

inline double RelError(const Matrix& got, const MatrixD& want) { return RelativeError(got, want); }

struct DecodeRun {
  Matrix product;
  int64_t tasks_used = 0;
  DecoderStats stats;
};

// Encodes tasks in the order given by `task_ids`, multiplies each coded block
// by B as a worker would (float), and feeds the decoder until decodable.
// Returns FailedPrecondition if the ids run out first.
inline absl::StatusOr<DecodeRun> EncodeMultiplyDecode(const Code& code, const Matrix& a, const Matrix& b,
                                                      const std::vector<int64_t>& task_ids) {
  auto decoder = code.NewDecoder();
  for (int64_t id : task_ids) {
    auto task = code.Task(id);
    if (!task.ok()) return task.status();
    auto coded = code.Encode(*task, a);
    if (!coded.ok()) return coded.status();
    Matrix result = *coded * b;
    auto state = decoder->Add(id, result);
    if (!state.ok()) return state.status();
    if (*state == DecodeState::kDecodable) {
      auto product = decoder->Decode();
      if (!product.ok()) return product.status();
      return DecodeRun{*std::move(product), decoder->stats().tasks_at_decodable, decoder->stats()};
    }
  }
  return absl::FailedPreconditionError("ran out of tasks before decodable");
}

// 0..n-1 shuffled with a Fisher-Yates on our own generator.
inline std::vector<int64_t> Shuffled(int64_t n, Pcg32& rng) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[rng.UniformInt(static_cast<uint32_t>(i + 1))]);
  return v;
}

inline std::vector<int64_t> Range(int64_t begin, int64_t end) {
  std::vector<int64_t> v;
  for (int64_t i = begin; i < end; ++i) v.push_back(i);
  return v;
}

}  // namespace codedge::testing

#endif  // CODEDGE_TESTS_CODES_TEST_UTIL_H_
