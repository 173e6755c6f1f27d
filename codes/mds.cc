#include "codes/mds.h"

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include <Eigen/LU>
#include <Eigen/SVD>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status.h"

namespace codedge {
namespace {

constexpr int64_t kMaxM = 4096;

// Rounds every coefficient to the nearest float so that encoding in float and
// decoding in double use identical numbers.
void RoundToFloat(MatrixD& g) {
  constexpr double kMax = std::numeric_limits<float>::max();
  for (int64_t i = 0; i < g.rows(); ++i) {
    for (int64_t j = 0; j < g.cols(); ++j) {
      const double v = g(i, j);
      // Out-of-range double -> float is undefined: map it to infinity.
      g(i, j) = std::abs(v) > kMax ? std::copysign(std::numeric_limits<double>::infinity(), v)
                                   : static_cast<double>(static_cast<float>(v));
    }
  }
}

MatrixD Vandermonde(const std::vector<double>& nodes, int64_t n) {
  MatrixD g(static_cast<int64_t>(nodes.size()), n);
  for (int64_t i = 0; i < g.rows(); ++i) {
    double p = 1.0;
    for (int64_t j = 0; j < n; ++j, p *= nodes[i]) g(i, j) = p;
  }
  return g;
}

MatrixD Gaussian(int64_t rows, int64_t n, uint64_t seed) {
  Pcg32 rng(seed, /*stream=*/0x6d6473);  // "mds"
  const double sd = 1.0 / std::sqrt(static_cast<double>(n));
  MatrixD g(rows, n);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < n; ++j) g(i, j) = rng.Normal(0.0, sd);
  return g;
}

// Decodes from the first n task results (n * spt coded symbols). Generator
// rows that are unit vectors (the systematic part) give their source symbol
// directly; the rest is the small system
//   G[S', U] X_U = R_{S'} - G[S', K] X_K
// over the unknown source symbols U, solved by LU with full pivoting in double.
class MdsDecoder : public Decoder {
 public:
  explicit MdsDecoder(const MdsCode& code) : Decoder(code), mds_(code) {}

 protected:
  absl::StatusOr<bool> DoAdd(const TaskSpec& task, ConstMatrixRef result) override {
    tasks_.push_back(task.id);
    results_.emplace_back(result);
    return static_cast<int64_t>(tasks_.size()) == mds_.n();
  }

  absl::StatusOr<Matrix> DoDecode() override {
    const SourceLayout& l = mds_.layout();
    const int64_t k = l.num_symbols, spt = mds_.symbols_per_task();
    const int64_t len = l.symbol_rows * cols();  // one symbol's result, flattened
    const MatrixD& g = mds_.generator();
    // Received equation e: generator row row_of(e), result data data_of(e).
    auto row_of = [&](int64_t e) { return tasks_[e / spt] * spt + e % spt; };
    auto data_of = [&](int64_t e) {
      return Eigen::Map<const Eigen::RowVectorXf>(results_[e / spt].data() + (e % spt) * len, len);
    };

    std::vector<int64_t> unit_eq(k, -1);  // source symbol -> equation fixing it
    std::vector<int64_t> other;           // equations of the system
    for (int64_t e = 0; e < k; ++e) {
      const auto row = g.row(row_of(e));
      int64_t nonzero = 0, at = -1;
      for (int64_t j = 0; j < k; ++j)
        if (row(j) != 0.0) ++nonzero, at = j;
      if (nonzero == 1 && row(at) == 1.0 && unit_eq[at] < 0) {
        unit_eq[at] = e;
      } else {
        other.push_back(e);
      }
    }
    std::vector<int64_t> unknown, known;
    for (int64_t j = 0; j < k; ++j) (unit_eq[j] < 0 ? unknown : known).push_back(j);

    MatrixD x(k, len);  // decoded source symbols, one flattened symbol per row
    for (int64_t j : known) x.row(j) = data_of(unit_eq[j]).cast<double>();
    if (!unknown.empty()) {
      const int64_t s = static_cast<int64_t>(unknown.size());
      MatrixD gu(s, s), rhs(s, len);
      for (int64_t a = 0; a < s; ++a) {
        const auto grow = g.row(row_of(other[a]));
        rhs.row(a) = data_of(other[a]).cast<double>();
        for (int64_t j : known) rhs.row(a) -= grow(j) * x.row(j);
        for (int64_t b = 0; b < s; ++b) gu(a, b) = grow(unknown[b]);
      }
      Eigen::FullPivLU<MatrixD> lu(gu);
      if (lu.rank() < s) {
        return absl::InternalError(absl::StrCat("generator rows of the received tasks are numerically singular (",
                                                mds_.name(), "); use a well-conditioned generator"));
      }
      MatrixD xu = lu.solve(rhs);
      for (int64_t b = 0; b < s; ++b) x.row(unknown[b]) = xu.row(b);
    }

    Matrix out(l.rows, cols());
    for (int64_t j = 0; j < k; ++j) {
      const int64_t begin = l.SymbolBegin(j), rows = l.SymbolEnd(j) - begin;
      if (rows <= 0) continue;
      out.middleRows(begin, rows) =
          Eigen::Map<const MatrixD>(x.row(j).data(), l.symbol_rows, cols()).topRows(rows).cast<float>();
    }
    return out;
  }

 private:
  const MdsCode& mds_;
  std::vector<int64_t> tasks_;
  std::vector<Matrix> results_;
};

}  // namespace

std::string MdsGeneratorName(MdsGenerator g) {
  switch (g) {
    case MdsGenerator::kVandermondeEquispaced: return "vandermonde-equispaced";
    case MdsGenerator::kVandermondeChebyshev: return "vandermonde-chebyshev";
    case MdsGenerator::kGaussian: return "gaussian";
    case MdsGenerator::kSystematic: return "systematic";
    case MdsGenerator::kRotation: return "rotation";
  }
  return "unknown";
}

absl::StatusOr<MdsGenerator> ParseMdsGenerator(absl::string_view name) {
  for (MdsGenerator g : kAllMdsGenerators) {
    if (name == MdsGeneratorName(g)) return g;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown MDS generator '", name,
      "' (use rotation, systematic, gaussian, vandermonde-chebyshev or vandermonde-equispaced)"));
}

int64_t MdsSymbolsPerTask(MdsGenerator g) { return g == MdsGenerator::kRotation ? 2 : 1; }

absl::StatusOr<MatrixD> MakeMdsGenerator(MdsGenerator kind, int64_t m, int64_t n, uint64_t seed) {
  if (n < 1) return absl::InvalidArgumentError(absl::StrCat("MDS n must be >= 1, got ", n));
  if (m < n) return absl::InvalidArgumentError(absl::StrCat("MDS needs m >= n, got m=", m, " n=", n));
  if (m > kMaxM) return absl::InvalidArgumentError(absl::StrCat("MDS m must be <= ", kMaxM, ", got ", m));
  MatrixD g;
  switch (kind) {
    case MdsGenerator::kVandermondeEquispaced: {
      std::vector<double> nodes(m);
      for (int64_t i = 0; i < m; ++i) nodes[i] = static_cast<double>(i + 1);
      g = Vandermonde(nodes, n);
      break;
    }
    case MdsGenerator::kVandermondeChebyshev: {
      std::vector<double> nodes(m);
      for (int64_t i = 0; i < m; ++i) {
        nodes[i] = std::cos((2.0 * static_cast<double>(i) + 1.0) * std::numbers::pi / (2.0 * static_cast<double>(m)));
      }
      g = Vandermonde(nodes, n);
      break;
    }
    case MdsGenerator::kGaussian:
      g = Gaussian(m, n, seed);
      break;
    case MdsGenerator::kRotation:
      // Complex entry z_i^j = exp(i phi), phi = 2 pi i j / m, acting on the
      // complex block X_j = A_{2j} + i A_{2j+1}:
      //   Re: cos(phi) A_{2j} - sin(phi) A_{2j+1}
      //   Im: sin(phi) A_{2j} + cos(phi) A_{2j+1}
      g.resize(2 * m, 2 * n);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          // Reduce i*j mod m first: exact angles, and exact 0/±1 at quadrants.
          const int64_t r = (i * j) % m;
          double cs = 1.0, sn = 0.0;
          if (4 * r == m) {
            cs = 0.0, sn = 1.0;
          } else if (2 * r == m) {
            cs = -1.0;
          } else if (4 * r == 3 * m) {
            cs = 0.0, sn = -1.0;
          } else if (r != 0) {
            const double phi = 2.0 * std::numbers::pi * static_cast<double>(r) / static_cast<double>(m);
            cs = std::cos(phi), sn = std::sin(phi);
          }
          g(2 * i, 2 * j) = cs;
          g(2 * i, 2 * j + 1) = -sn;
          g(2 * i + 1, 2 * j) = sn;
          g(2 * i + 1, 2 * j + 1) = cs;
        }
      }
      break;
    case MdsGenerator::kSystematic:
      g.resize(m, n);
      g.topRows(n).setIdentity();
      g.bottomRows(m - n) = Gaussian(m - n, n, seed);
      break;
  }
  RoundToFloat(g);
  if (!g.allFinite()) {  // m^(n-1) > FLT_MAX for large equispaced codes
    return absl::InvalidArgumentError(absl::StrCat("generator ", MdsGeneratorName(kind), " for (m=", m, ", n=", n,
                                                   ") has entries beyond float32 range; use a smaller m or the "
                                                   "default generator"));
  }
  return g;
}

absl::StatusOr<std::unique_ptr<MdsCode>> MdsCode::Create(int64_t rows, int64_t m, int64_t n,
                                                         MdsGenerator generator, uint64_t seed) {
  ASSIGN_OR_RETURN(MatrixD g, MakeMdsGenerator(generator, m, n, seed));
  ASSIGN_OR_RETURN(SourceLayout layout, SourceLayout::ForSymbolCount(rows, n * MdsSymbolsPerTask(generator)));
  return std::unique_ptr<MdsCode>(new MdsCode(layout, m, n, generator, std::move(g)));
}

std::string MdsCode::name() const {
  return absl::StrCat("mds(", m_, ",", n(), ",", MdsGeneratorName(kind_), ")");
}

absl::Status MdsCode::CheckTaskId(int64_t id) const {
  if (id < 0 || id >= m_) return absl::OutOfRangeError(absl::StrCat("task ", id, " out of range [0, ", m_, ")"));
  return absl::OkStatus();
}

absl::StatusOr<TaskSpec> MdsCode::Task(int64_t id) const {
  RETURN_IF_ERROR(CheckTaskId(id));
  TaskSpec t;
  t.id = id;
  for (int64_t r = id * spt_; r < (id + 1) * spt_; ++r) {
    CodedSymbol s;
    for (int64_t j = 0; j < g_.cols(); ++j) {
      if (g_(r, j) == 0.0) continue;
      s.sources.push_back(static_cast<int32_t>(j));
      s.coeffs.push_back(g_(r, j));
    }
    t.symbols.push_back(std::move(s));
  }
  return t;
}

std::unique_ptr<Decoder> MdsCode::NewDecoder() const { return std::make_unique<MdsDecoder>(*this); }

absl::StatusOr<double> MdsCode::ConditionNumber(std::span<const int64_t> tasks) const {
  if (static_cast<int64_t>(tasks.size()) != n()) {
    return absl::InvalidArgumentError(absl::StrCat("need exactly n=", n(), " task ids, got ", tasks.size()));
  }
  MatrixD sub(n() * spt_, n() * spt_);
  for (int64_t r = 0; r < n(); ++r) {
    if (tasks[r] < 0 || tasks[r] >= m_) return absl::OutOfRangeError(absl::StrCat("task ", tasks[r], " out of range"));
    sub.middleRows(r * spt_, spt_) = g_.middleRows(tasks[r] * spt_, spt_);
  }
  Eigen::JacobiSVD<MatrixD> svd(sub);
  const auto& sv = svd.singularValues();
  if (sv(sv.size() - 1) == 0.0) return std::numeric_limits<double>::infinity();
  return sv(0) / sv(sv.size() - 1);
}

}  // namespace codedge
