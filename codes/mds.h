// Real-valued (m, n) MDS codes (paper, sec. 3.3, eqs. 7-9): A is cut into n
// row blocks, task i is sum_j G[i][j] A_j for an m x n generator G whose
// every n x n row subset is invertible, and A·B is recovered from any n task
// results by solving G_S X = R_S in double precision.
//
// Generators (all rounded to float-representable values, see CodedSymbol):
//   rotation                The real embedding of the complex Vandermonde
//                           matrix at the m-th roots of unity (Ramamoorthy &
//                           Tang, "Numerically stable coded matrix
//                           computations via circulant and rotation matrix
//                           embeddings", 2021): each block is split into two
//                           halves (a complex block), node z_i = exp(2 pi i/m)
//                           acts as a 2x2 rotation, so a task is two coded
//                           symbols over 2n half-blocks. Worst condition
//                           number over every 10-subset of (15,10) is ~3e2
//                           (real Vandermonde or Gaussian: ~1e5 and more).
//                           Default: best measured conditioning.
//   vandermonde-equispaced  G[i][j] = x_i^j, x_i = 1..m. The paper's choice;
//                           ill-conditioned (cond ~1e16 at (15,10)): kept only
//                           to reproduce the paper, never a default.
//   vandermonde-chebyshev   x_i^j at Chebyshev nodes x_i = cos((2i+1)pi/2m).
//   gaussian                i.i.d. N(0, 1/n) entries from a seeded Pcg32.
//   systematic              [I_n; P], P (m-n) x n i.i.d. N(0, 1/n): tasks
//                           0..n-1 are raw blocks (they expose rows of A), and
//                           decoding touches only the missing blocks.
// Measured figures: BENCHMARKS.md (`edge-bench codes`).
#ifndef CODEDGE_CODES_MDS_H_
#define CODEDGE_CODES_MDS_H_

#include <memory>
#include <span>
#include <string>

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "codes/code.h"

namespace codedge {

enum class MdsGenerator { kRotation, kVandermondeEquispaced, kVandermondeChebyshev, kGaussian, kSystematic };

inline constexpr MdsGenerator kDefaultMdsGenerator = MdsGenerator::kRotation;
inline constexpr MdsGenerator kAllMdsGenerators[] = {MdsGenerator::kRotation, MdsGenerator::kSystematic,
                                                    MdsGenerator::kGaussian, MdsGenerator::kVandermondeChebyshev,
                                                    MdsGenerator::kVandermondeEquispaced};

std::string MdsGeneratorName(MdsGenerator g);
// Parses the names above; InvalidArgument listing them otherwise.
absl::StatusOr<MdsGenerator> ParseMdsGenerator(absl::string_view name);

// Coded symbols per task: 2 for kRotation (a complex block), else 1.
int64_t MdsSymbolsPerTask(MdsGenerator g);

// The symbol-level generator, (m * spt) x (n * spt) with spt =
// MdsSymbolsPerTask(g): rows [i*spt, (i+1)*spt) are task i's coded symbols
// over the n*spt source symbols. m >= n >= 1; `seed` is used by the random
// generators.
absl::StatusOr<MatrixD> MakeMdsGenerator(MdsGenerator g, int64_t m, int64_t n, uint64_t seed);

class MdsCode : public Code {
 public:
  // rows >= 1, m >= n >= 1, m <= 4096; InvalidArgument otherwise.
  static absl::StatusOr<std::unique_ptr<MdsCode>> Create(int64_t rows, int64_t m, int64_t n,
                                                         MdsGenerator generator = kDefaultMdsGenerator,
                                                         uint64_t seed = 1);

  std::string name() const override;
  std::optional<int64_t> num_tasks() const override { return m_; }
  absl::StatusOr<TaskSpec> Task(int64_t id) const override;
  absl::Status CheckTaskId(int64_t id) const override;
  int64_t symbols_per_task() const override { return spt_; }
  std::unique_ptr<Decoder> NewDecoder() const override;

  int64_t m() const { return m_; }
  int64_t n() const { return n_; }
  MdsGenerator generator_kind() const { return kind_; }
  const MatrixD& generator() const { return g_; }

  // 2-norm condition number of the generator rows of `tasks` (n distinct
  // task ids; a square matrix of n * spt rows); infinity if singular.
  absl::StatusOr<double> ConditionNumber(std::span<const int64_t> tasks) const;

 private:
  MdsCode(SourceLayout layout, int64_t m, int64_t n, MdsGenerator kind, MatrixD g)
      : Code(layout), m_(m), n_(n), spt_(MdsSymbolsPerTask(kind)), kind_(kind), g_(std::move(g)) {}
  int64_t m_, n_, spt_;
  MdsGenerator kind_;
  MatrixD g_;  // (m * spt) x (n * spt)
};

}  // namespace codedge

#endif  // CODEDGE_CODES_MDS_H_
