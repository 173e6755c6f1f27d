#include "bench/codes_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <limits>

#include <Eigen/QR>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/json.h"
#include "bench/stats.h"
#include "codes/lt.h"
#include "codes/mds.h"
#include "common/linalg.h"
#include "common/logging.h"
#include "common/matrix.h"
#include "common/matrix_util.h"
#include "common/random.h"
#include "common/status.h"

namespace codedge::bench {
namespace {

Matrix RandomMatrix(int64_t rows, int64_t cols, Pcg32& rng) { return RandomUniformMatrix(rows, cols, rng); }
double RelError(const Matrix& got, const MatrixD& want) { return RelativeError(got, want); }

// The LT parameters the options ask for (flags left at their "library
// default" values keep LtParams' defaults).
LtParams OptionsLtParams(const CodesBenchOptions& o) {
  LtParams p;
  if (o.lt_c > 0) p.c = o.lt_c;
  if (o.lt_delta > 0) p.delta = o.lt_delta;
  if (o.lt_max_amplification >= 0) p.max_error_amplification = o.lt_max_amplification;
  p.max_inactivations = o.lt_max_inactive;
  if (o.lt_surplus >= 0) p.elimination_surplus = o.lt_surplus;
  p.seed = o.seed;
  return p;
}

// Symbols one at a time (symbols_per_task = 1) until decodable, `runs` seeds
// from `seed`, the code otherwise as `base`. The values are real: A is one
// random column, B = [1], so every run also checks the decode.
absl::StatusOr<LtOverheadRow> MeasureLtOverhead(int64_t k, const LtParams& base, int runs, uint64_t seed) {
  const double max_amp = base.max_error_amplification;
  LtOverheadRow row;
  row.max_amplification = max_amp;
  row.k = k;
  row.decoder = base.elimination ? "peeling+elimination" : "peeling";
  row.runs = runs;
  row.delta = base.delta;
  Pcg32 rng(seed, k);
  const Matrix a = RandomMatrix(k, 1, rng);
  std::vector<double> overheads;
  double attempts = 0, inactivations = 0;
  const auto start = SteadyClock::now();
  for (int run = 0; run < runs; ++run) {
    LtParams p = base;
    p.symbols_per_task = 1;
    p.seed = MixSeed(seed, static_cast<uint64_t>(run));
    ASSIGN_OR_RETURN(auto code, LtCode::Create(k, p));
    row.c = code->params().c;  // c = 0 resolved by k, as the code did it
    auto decoder = code->NewDecoder();
    Matrix value(1, 1);
    bool done = false;
    for (int64_t i = 0; !done; ++i) {
      if (i > 20 * k + 1000) return absl::InternalError(absl::StrCat("LT k=", k, " did not decode in ", i, " symbols"));
      const CodedSymbol s = code->Symbol(i);
      double sum = 0;
      for (int32_t src : s.sources) sum += a(src, 0);
      value(0, 0) = static_cast<float>(sum);
      ASSIGN_OR_RETURN(DecodeState st, decoder->Add(i, value));
      done = st == DecodeState::kDecodable;
    }
    ASSIGN_OR_RETURN(Matrix got, decoder->Decode());
    // Each value was rounded once to float (relative 2^-24): the decode may
    // amplify that by about max_amp (the decoder's own probe; 4x slack for
    // the probe being one random sample).
    const double err = RelError(got, a.cast<double>());
    if (max_amp > 0 && !(err <= 4 * max_amp * 0x1p-24)) {
      return absl::InternalError(absl::StrCat("LT k=", k, " run ", run, " decoded with relative error ", err,
                                              ", above 4 x ", max_amp, " x 2^-24"));
    }
    row.rel_error_max = std::max(row.rel_error_max, err);
    row.amplification_max = std::max(row.amplification_max, decoder->stats().estimated_amplification);
    overheads.push_back(static_cast<double>(decoder->stats().symbols_at_decodable) / static_cast<double>(k) - 1.0);
    attempts += static_cast<double>(decoder->stats().elimination_attempts);
    inactivations += static_cast<double>(decoder->stats().inactivations);
  }
  row.seconds = SecondsSince(start);
  double sum = 0;
  for (double o : overheads) sum += o;
  row.overhead_mean = sum / runs;
  row.overhead_p99 = Quantile(overheads, 0.99);
  row.overhead_max = *std::max_element(overheads.begin(), overheads.end());
  row.attempts_mean = attempts / runs;
  row.inactivations_mean = inactivations / runs;
  Log().info("lt k={} {} c={} delta={} max amplification {}: overhead mean {:.2f}% p99 {:.2f}%, worst rel error "
             "{:.2g}, over {} runs in {:.1f} s",
             k, row.decoder, row.c, row.delta, max_amp, 100 * row.overhead_mean, 100 * row.overhead_p99, row.rel_error_max, runs,
             row.seconds);
  return row;
}

// The data both conditioning measurements use: a random k x 8 matrix per
// seed, and each symbol's value rounded once to float32, as a worker's
// result carries.
constexpr int64_t kConditioningCols = 8;
Matrix ConditioningData(int64_t k, uint64_t seed) {
  Pcg32 rng(seed, 0x6c73);  // "ls"
  return RandomMatrix(k, kConditioningCols, rng);
}
Matrix SymbolValue(const CodedSymbol& s, const Matrix& a) {
  Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(a.cols());
  for (int32_t src : s.sources) sum += a.row(src).cast<double>();
  return sum.cast<float>();
}

// Least squares over every symbol (Householder QR with column pivoting, in
// double): relative error / 2^-24, or infinity when the symbols do not
// determine the sources.
double LeastSquaresAmplification(const std::vector<CodedSymbol>& symbols, const std::vector<Matrix>& values,
                                 const Matrix& a) {
  const int64_t n = static_cast<int64_t>(symbols.size());
  MatrixD g = MatrixD::Zero(n, a.rows()), y(n, a.cols());
  for (int64_t e = 0; e < n; ++e) {
    for (int32_t src : symbols[e].sources) g(e, src) = 1.0;
    y.row(e) = values[e].cast<double>();
  }
  const Eigen::ColPivHouseholderQR<MatrixD> qr(g);
  if (qr.rank() < a.rows()) return std::numeric_limits<double>::infinity();
  const MatrixD exact = a.cast<double>();
  return (qr.solve(y) - exact).norm() / exact.norm() / 0x1p-24;
}

// The decoder's error against the least-squares solution of the same
// symbols: how much of the decoder's amplification is the received system's
// own conditioning, and how much is the decoder's (peeling solves each
// source from one equation; least squares uses every equation).
absl::StatusOr<LtConditioningRow> MeasureLtConditioning(int64_t k, bool elimination, uint64_t seed) {
  LtConditioningRow row;
  row.k = k;
  row.decoder = elimination ? "peeling+elimination" : "peeling";
  row.seed = seed;
  const Matrix a = ConditioningData(k, seed);
  LtParams p;
  p.symbols_per_task = 1;
  p.elimination = elimination;
  p.seed = seed;
  ASSIGN_OR_RETURN(auto code, LtCode::Create(k, p));
  auto decoder = code->NewDecoder();
  std::vector<CodedSymbol> symbols;
  std::vector<Matrix> values;
  for (int64_t i = 0;; ++i) {
    if (i > 20 * k + 1000) return absl::InternalError(absl::StrCat("LT k=", k, " did not decode in ", i, " symbols"));
    symbols.push_back(code->Symbol(i));
    values.push_back(SymbolValue(symbols.back(), a));
    ASSIGN_OR_RETURN(DecodeState st, decoder->Add(i, values.back()));
    if (st == DecodeState::kDecodable) break;
  }
  ASSIGN_OR_RETURN(Matrix got, decoder->Decode());
  row.symbols = static_cast<int64_t>(symbols.size());
  row.inactivations = decoder->stats().inactivations;
  row.probe_amplification = decoder->stats().estimated_amplification;
  row.decoder_amplification = RelError(got, a.cast<double>()) / 0x1p-24;
  row.ls_amplification = LeastSquaresAmplification(symbols, values, a);
  if (std::isinf(row.ls_amplification)) {
    return absl::InternalError(absl::StrCat("LT k=", k, ": decodable, but its symbols do not determine the sources"));
  }
  Log().info("lt k={} {} seed {}: {} symbols, amplification decoder {:.3g} (probe {:.3g}), least squares {:.3g}", k,
             row.decoder, seed, row.symbols, row.decoder_amplification, row.probe_amplification,
             row.ls_amplification);
  return row;
}

// Least squares alone on the first k (1 + overhead) symbols: how well
// conditioned the received system is at that overhead, whatever decodes it.
absl::StatusOr<LtConditioningRow> MeasureLsAtOverhead(int64_t k, double overhead, uint64_t seed) {
  LtConditioningRow row;
  row.k = k;
  row.decoder = "least squares only";
  row.seed = seed;
  row.decoder_amplification = row.probe_amplification = std::numeric_limits<double>::quiet_NaN();
  const Matrix a = ConditioningData(k, seed);
  LtParams p;
  p.symbols_per_task = 1;
  p.seed = seed;
  ASSIGN_OR_RETURN(auto code, LtCode::Create(k, p));
  row.symbols = static_cast<int64_t>(std::ceil(static_cast<double>(k) * (1.0 + overhead)));
  std::vector<CodedSymbol> symbols;
  std::vector<Matrix> values;
  for (int64_t e = 0; e < row.symbols; ++e) {
    symbols.push_back(code->Symbol(e));
    values.push_back(SymbolValue(symbols.back(), a));
  }
  row.ls_amplification = LeastSquaresAmplification(symbols, values, a);
  return row;
}

double LogBinomial(int64_t m, int64_t n) {
  return std::lgamma(m + 1.0) - std::lgamma(n + 1.0) - std::lgamma(m - n + 1.0);
}

absl::StatusOr<MdsRow> MeasureMds(MdsGenerator g, int64_t m, int64_t n, int64_t max_subsets, uint64_t seed) {
  MdsRow row;
  row.generator = MdsGeneratorName(g);
  row.m = m;
  row.n = n;
  row.is_default = g == kDefaultMdsGenerator;
  Pcg32 rng(seed, static_cast<uint64_t>(m * 1000 + n));
  const int64_t rows = 64 * n, inner = 32, cols = 8;
  const Matrix a = RandomMatrix(rows, inner, rng), b = RandomMatrix(inner, cols, rng);
  const MatrixD exact = a.cast<double>() * b.cast<double>();
  ASSIGN_OR_RETURN(auto code, MdsCode::Create(rows, m, n, g, seed));
  std::vector<Matrix> results;
  for (int64_t t = 0; t < m; ++t) {
    ASSIGN_OR_RETURN(TaskSpec task, code->Task(t));
    ASSIGN_OR_RETURN(Matrix coded, code->Encode(task, a));
    results.push_back(coded * b);  // float32, as a worker computes it
  }
  std::vector<double> errors;
  auto decode_subset = [&](const std::vector<int64_t>& subset) -> absl::Status {
    auto dec = code->NewDecoder();
    for (int64_t t : subset) RETURN_IF_ERROR(dec->Add(t, results[t]).status());
    ASSIGN_OR_RETURN(double cond, code->ConditionNumber(subset));
    row.worst_cond = std::max(row.worst_cond, cond);
    absl::StatusOr<Matrix> got = dec->Decode();
    if (!got.ok()) {
      // Numerically singular (equispaced nodes): counted, error 100%.
      if (got.status().code() != absl::StatusCode::kInternal) return got.status();
      row.refused++;
      errors.push_back(1.0);
      return absl::OkStatus();
    }
    errors.push_back(RelError(*got, exact));
    return absl::OkStatus();
  };
  row.exhaustive = LogBinomial(m, n) <= std::log(static_cast<double>(max_subsets)) + 1e-9;
  std::vector<int64_t> idx(n);
  if (row.exhaustive) {
    for (int64_t i = 0; i < n; ++i) idx[i] = i;
    for (;;) {
      RETURN_IF_ERROR(decode_subset(idx));
      int64_t i = n - 1;
      while (i >= 0 && idx[i] == m - n + i) --i;
      if (i < 0) break;
      ++idx[i];
      for (int64_t j = i + 1; j < n; ++j) idx[j] = idx[j - 1] + 1;
    }
  } else {
    std::vector<int64_t> all(m);
    for (int64_t s = 0; s < max_subsets; ++s) {
      for (int64_t i = 0; i < m; ++i) all[i] = i;
      for (int64_t i = 0; i < n; ++i) std::swap(all[i], all[i + rng.UniformInt(static_cast<uint32_t>(m - i))]);
      idx.assign(all.begin(), all.begin() + n);
      std::sort(idx.begin(), idx.end());
      RETURN_IF_ERROR(decode_subset(idx));
    }
  }
  row.subsets = static_cast<int64_t>(errors.size());
  row.worst_rel_error = *std::max_element(errors.begin(), errors.end());
  row.median_rel_error = Median(errors);
  return row;
}

// LT at row granularity: find the tasks needed (and verify the product) once,
// then time encode and decode.
absl::StatusOr<LtTiming> MeasureLtTiming(const CodesBenchOptions& o, const Matrix& a, const Matrix& b,
                                         const MatrixD& exact, double local_rel_error, bool elimination,
                                         int64_t symbol_rows) {
  LtTiming res;
  LtParams p = OptionsLtParams(o);
  p.elimination = elimination;
  p.symbol_rows = symbol_rows;
  ASSIGN_OR_RETURN(auto lt, LtCode::Create(a.rows(), p));
  res.code = lt->name();
  std::vector<TaskSpec> tasks;
  std::vector<Matrix> results;
  {
    auto dec = lt->NewDecoder();
    for (int64_t id = 0; !dec->decodable(); ++id) {
      if (id * lt->symbols_per_task() > 3 * lt->k() + 1000) {
        return absl::InternalError(absl::StrCat(res.code, " not decodable after ", id, " tasks"));
      }
      ASSIGN_OR_RETURN(TaskSpec task, lt->Task(id));
      ASSIGN_OR_RETURN(Matrix coded, lt->Encode(task, a));
      results.push_back(coded * b);
      RETURN_IF_ERROR(dec->Add(id, results.back()).status());
      tasks.push_back(std::move(task));
    }
    ASSIGN_OR_RETURN(Matrix got, dec->Decode());
    res.rel_error = RelError(got, exact);
    res.tasks = static_cast<int64_t>(tasks.size());
    res.symbols = dec->stats().symbols_at_decodable;
    res.amplification = dec->stats().estimated_amplification;
    res.inactivations = dec->stats().inactivations;
  }
  // The workers' float products carry about the local product's relative
  // error; the decoder promises to amplify it at most max_amplification-fold
  // (4x slack: its probe is a few random samples).
  const double limit = 4 * std::max(1.0, p.max_error_amplification) * std::max(local_rel_error, 0x1p-24);
  if (p.max_error_amplification > 0 && !(res.rel_error <= limit)) {
    return absl::InternalError(absl::StrCat(res.code, " decode error ", res.rel_error, " above ", limit));
  }
  absl::Status failed;
  // Encoding = generating each task's symbols and summing its rows (a server
  // does both); decoding = Add of each (already generated) task + Decode.
  res.encode_s = MedianSeconds(o.timing_repeats, [&] {
    for (const TaskSpec& t : tasks) {
      auto spec = lt->Task(t.id);
      if (!spec.ok()) {
        failed = spec.status();
        continue;
      }
      auto coded = lt->Encode(*spec, a);
      if (!coded.ok()) failed = coded.status();
    }
  });
  res.decode_s = MedianSeconds(o.timing_repeats, [&] {
    auto dec = lt->NewDecoder();
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (auto s = dec->Add(tasks[i], results[i]); !s.ok()) failed = s.status();
    }
    if (auto got = dec->Decode(); !got.ok()) failed = got.status();
  });
  RETURN_IF_ERROR(failed);
  return res;
}

absl::StatusOr<TimingResult> MeasureTiming(const CodesBenchOptions& o) {
  TimingResult res;
  res.rows = o.timing_rows;
  res.inner = o.timing_inner;
  res.cols = o.timing_cols;
  res.backend = LinalgBackend();
  SetComputeThreads(1);
  Pcg32 rng(o.seed, 0x7469);
  const Matrix a = RandomMatrix(o.timing_rows, o.timing_inner, rng);
  const Matrix b = RandomMatrix(o.timing_inner, o.timing_cols, rng);
  const MatrixD exact = a.cast<double>() * b.cast<double>();
  Matrix local;
  res.local_product_s = MedianSeconds(o.timing_repeats, [&] { local.noalias() = a * b; });
  res.local_rel_error = RelError(local, exact);

  ASSIGN_OR_RETURN(res.lt, MeasureLtTiming(o, a, b, exact, res.local_rel_error, /*elimination=*/true, 1));
  ASSIGN_OR_RETURN(res.lt_peeling, MeasureLtTiming(o, a, b, exact, res.local_rel_error, /*elimination=*/false, 1));
  // The same product with 10 rows per symbol (k = rows / 10): the cost of
  // row granularity, shown beside it.
  ASSIGN_OR_RETURN(res.lt_blocked, MeasureLtTiming(o, a, b, exact, res.local_rel_error, /*elimination=*/true, 10));
  absl::Status failed;

  // MDS (15, 10), default generator; decode from the last 10 tasks (for a
  // systematic generator that is the worst case: five blocks to solve for).
  ASSIGN_OR_RETURN(auto mds, MdsCode::Create(o.timing_rows, 15, 10));
  res.mds_code = mds->name();
  std::vector<Matrix> mres(15);
  for (int64_t t = 0; t < 15; ++t) {
    ASSIGN_OR_RETURN(TaskSpec task, mds->Task(t));
    ASSIGN_OR_RETURN(Matrix coded, mds->Encode(task, a));  // the per-task path: cross-checks EncodeTasks
    mres[t] = coded * b;
  }
  std::vector<TaskSpec> mtasks;
  for (int64_t t = 0; t < 15; ++t) {
    ASSIGN_OR_RETURN(TaskSpec task, mds->Task(t));
    mtasks.push_back(std::move(task));
  }
  {  // verify the batched encoder against the per-task one before timing it
    ASSIGN_OR_RETURN(std::vector<Matrix> batch, mds->EncodeTasks(mtasks, a));
    for (int64_t t = 0; t < 15; ++t) {
      ASSIGN_OR_RETURN(Matrix one, mds->Encode(mtasks[t], a));
      const double diff = (batch[t] - one).norm() / one.norm();
      if (!(diff < 1e-5)) return absl::InternalError(absl::StrCat("EncodeTasks differs from Encode by ", diff));
    }
  }
  res.mds_encode_s = MedianSeconds(o.timing_repeats, [&] {
    auto coded = mds->EncodeTasks(mtasks, a);
    if (!coded.ok()) failed = coded.status();
  });
  Matrix mds_got;
  res.mds_decode_s = MedianSeconds(o.timing_repeats, [&] {
    auto dec = mds->NewDecoder();
    for (int64_t t = 5; t < 15; ++t) {
      if (auto s = dec->Add(t, mres[t]); !s.ok()) failed = s.status();
    }
    auto got = dec->Decode();
    if (!got.ok()) {
      failed = got.status();
    } else {
      mds_got = *std::move(got);
    }
  });
  RETURN_IF_ERROR(failed);
  res.mds_rel_error = RelError(mds_got, exact);
  if (!(res.mds_rel_error < 1e-4)) return absl::InternalError(absl::StrCat("MDS decode error ", res.mds_rel_error));
  Log().info("timing {}x{} . {}x{}: local {:.1f} ms, LT encode {:.1f} ms decode {:.1f} ms, MDS encode {:.1f} ms decode {:.1f} ms",
             o.timing_rows, o.timing_inner, o.timing_inner, o.timing_cols, 1e3 * res.local_product_s,
             1e3 * res.lt.encode_s, 1e3 * res.lt.decode_s, 1e3 * res.mds_encode_s, 1e3 * res.mds_decode_s);
  return res;
}

}  // namespace

absl::StatusOr<CodesBenchResult> RunCodesBench(const CodesBenchOptions& o) {
  if (o.runs < 1) return absl::InvalidArgumentError(absl::StrCat("--runs must be >= 1, got ", o.runs));
  if (o.sweep_runs < 1) return absl::InvalidArgumentError(absl::StrCat("--sweep_runs must be >= 1, got ", o.sweep_runs));
  if (o.timing_repeats < 1) return absl::InvalidArgumentError("--repeats must be >= 1");
  if (o.lt_max_inactive < 0) return absl::InvalidArgumentError("--lt_max_inactive must be >= 0 (0: automatic)");
  if (!(o.lt_surplus < 0 || o.lt_surplus <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("--lt_surplus must be in [0, 1] (a fraction of k), got ", o.lt_surplus));
  }
  if (o.mds_max_subsets < 1) return absl::InvalidArgumentError("--mds_subsets must be >= 1");
  if (o.lt_ls_k < 0 || o.lt_ls_k > 5000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--lt_ls_k must be in [0, 5000] (a dense least-squares solve), got ", o.lt_ls_k));
  }
  if (o.lt_ls_runs < 1) return absl::InvalidArgumentError(absl::StrCat("--lt_ls_runs must be >= 1, got ", o.lt_ls_runs));
  if (o.timing_rows < 1 || o.timing_inner < 1 || o.timing_cols < 1) {
    return absl::InvalidArgumentError("timing shape must be positive");
  }
  for (int64_t k : o.lt_ks) {
    if (k < 1) return absl::InvalidArgumentError(absl::StrCat("LT k must be >= 1, got ", k));
  }
  CodesBenchResult res;
  LtParams base = OptionsLtParams(o);
  for (int64_t k : o.lt_ks) {
    for (bool elim : {false, true}) {
      base.elimination = elim;
      ASSIGN_OR_RETURN(LtOverheadRow row, MeasureLtOverhead(k, base, o.runs, o.seed));
      res.lt.push_back(row);
    }
  }
  if (o.lt_sweep) {
    for (int64_t k : {100, 1000, 10000}) {
      for (double sc : {0.01, 0.03, 0.05, 0.1, 0.2}) {
        for (double sd : {0.05, 0.5}) {
          for (bool elim : {false, true}) {
            LtParams swept = base;
            swept.c = sc;
            swept.delta = sd;
            swept.elimination = elim;
            ASSIGN_OR_RETURN(LtOverheadRow row, MeasureLtOverhead(k, swept, o.sweep_runs, o.seed + 1));
            res.lt_sweep.push_back(row);
          }
        }
      }
    }
  }
  if (o.lt_ls_k > 0) {
    for (bool elim : {false, true}) {
      for (int run = 0; run < o.lt_ls_runs; ++run) {
        ASSIGN_OR_RETURN(LtConditioningRow row,
                         MeasureLtConditioning(o.lt_ls_k, elim, MixSeed(o.seed, static_cast<uint64_t>(run))));
        res.lt_conditioning.push_back(row);
      }
    }
    for (double overhead : {0.01, 0.02, 0.04, 0.08}) {
      for (int run = 0; run < o.lt_ls_runs; ++run) {
        ASSIGN_OR_RETURN(LtConditioningRow row,
                         MeasureLsAtOverhead(o.lt_ls_k, overhead, MixSeed(o.seed, static_cast<uint64_t>(run))));
        res.lt_conditioning.push_back(row);
      }
    }
  }
  for (MdsGenerator g : kAllMdsGenerators) {
    for (auto [m, n] : {std::pair<int64_t, int64_t>{15, 10}, {20, 10}, {30, 20}}) {
      ASSIGN_OR_RETURN(MdsRow row, MeasureMds(g, m, n, o.mds_max_subsets, o.seed));
      res.mds.push_back(row);
    }
  }
  Log().info("mds: {} generator/shape rows measured", res.mds.size());
  ASSIGN_OR_RETURN(res.timing, MeasureTiming(o));
  return res;
}

namespace {

void PrintLtRows(const std::vector<LtOverheadRow>& rows, std::ostream& out) {
  out << absl::StrFormat("%8s  %-20s %5s %5s %6s %5s %10s %10s %10s %8s %8s %9s %10s\n", "k", "decoder", "c", "delta",
                         "maxamp", "runs", "ovh mean%", "ovh p99%", "ovh max%", "attempts", "inactive", "worst amp",
                         "worst err");
  for (const auto& r : rows) {
    out << absl::StrFormat("%8d  %-20s %5g %5g %6g %5d %10.2f %10.2f %10.2f %8.2f %8.1f %9.3g %10.2g\n", r.k, r.decoder,
                           r.c, r.delta, r.max_amplification, r.runs, 100 * r.overhead_mean, 100 * r.overhead_p99,
                           100 * r.overhead_max, r.attempts_mean, r.inactivations_mean, r.amplification_max,
                           r.rel_error_max);
  }
}

void WriteLtRows(const std::vector<LtOverheadRow>& rows, JsonWriter& w) {
  w.BeginArray();
  for (const auto& r : rows) {
    w.BeginObject()
        .Key("k").Int(r.k)
        .Key("decoder").String(r.decoder)
        .Key("c").Number(r.c)
        .Key("delta").Number(r.delta)
        .Key("runs").Int(r.runs)
        .Key("overhead_mean").Number(r.overhead_mean)
        .Key("overhead_p99").Number(r.overhead_p99)
        .Key("overhead_max").Number(r.overhead_max)
        .Key("elimination_attempts_mean").Number(r.attempts_mean)
        .Key("inactivations_mean").Number(r.inactivations_mean)
        .Key("max_amplification").Number(r.max_amplification)
        .Key("amplification_max").Number(r.amplification_max)
        .Key("rel_error_max").Number(r.rel_error_max)
        .Key("seconds").Number(r.seconds)
        .EndObject();
  }
  w.EndArray();
}

}  // namespace

void PrintCodesTable(const CodesBenchResult& r, std::ostream& out) {
  out << "LT reception overhead (symbols needed / k - 1)\n";
  PrintLtRows(r.lt, out);
  if (!r.lt_sweep.empty()) {
    out << "\nLT parameter sweep\n";
    PrintLtRows(r.lt_sweep, out);
  }
  if (!r.lt_conditioning.empty()) {
    out << "\nLT decoder vs least squares on the same symbols (relative error / 2^-24, data rounded once to float)\n";
    out << absl::StrFormat("%8s  %-20s %20s %8s %8s %10s %10s %10s\n", "k", "decoder", "seed", "symbols", "inactive",
                           "decoder", "probe", "lstsq");
    for (const auto& c : r.lt_conditioning) {
      const auto num = [](double v) { return std::isnan(v) ? std::string("-") : absl::StrFormat("%.3g", v); };
      out << absl::StrFormat("%8d  %-20s %20d %8d %8d %10s %10s %10s\n", c.k, c.decoder, c.seed, c.symbols,
                             c.inactivations, num(c.decoder_amplification), num(c.probe_amplification),
                             num(c.ls_amplification));
    }
  }
  out << "\nMDS generators: float32 decode from n of m results\n";
  out << absl::StrFormat("%-24s %4s %4s %8s %12s %14s %14s %8s %8s\n", "generator", "m", "n", "subsets", "worst cond",
                         "worst rel err", "median rel err", "refused", "default");
  for (const auto& m : r.mds) {
    out << absl::StrFormat("%-24s %4d %4d %7d%s %12.3g %14.3g %14.3g %8d %8s\n", m.generator, m.m, m.n, m.subsets,
                           m.exhaustive ? " " : "*", m.worst_cond, m.worst_rel_error, m.median_rel_error, m.refused,
                           m.is_default ? "yes" : "");
  }
  out << "  (* = random sample of subsets, otherwise every subset; refused = numerically singular, counted as\n"
         "   relative error 1)\n";
  const TimingResult& t = r.timing;
  out << absl::StrFormat("\nTiming, %dx%d . %dx%d, single thread, %s (median of runs)\n", t.rows, t.inner, t.inner,
                         t.cols, t.backend);
  const auto line = [&](const char* what, double s, const std::string& note) {
    out << absl::StrFormat("  %-24s %10.2f ms  %6.3fx local   %s\n", what, 1e3 * s, s / t.local_product_s, note);
  };
  line("local product", t.local_product_s, "");
  for (const LtTiming* lt : {&t.lt, &t.lt_peeling, &t.lt_blocked}) {
    const char* what = lt == &t.lt ? "" : lt == &t.lt_peeling ? " (peeling)" : " (10 rows/sym)";
    line(absl::StrCat("LT encode", what).c_str(), lt->encode_s,
         absl::StrFormat("%s, %d tasks, %d symbols", lt->code, lt->tasks, lt->symbols));
    line(absl::StrCat("LT decode", what).c_str(), lt->decode_s,
         absl::StrFormat("rel err %.2g (local float product %.2g), probe amplification %.3g, %d inactivations",
                         lt->rel_error, t.local_rel_error, lt->amplification, lt->inactivations));
  }
  line("MDS encode (15 tasks)", t.mds_encode_s, t.mds_code);
  line("MDS decode (5 erased)", t.mds_decode_s, absl::StrFormat("rel err %.2g", t.mds_rel_error));
}

std::string CodesJson(const CodesBenchResult& r) {
  JsonWriter w;
  w.BeginObject();
  w.Key("lt");
  WriteLtRows(r.lt, w);
  if (!r.lt_sweep.empty()) {
    w.Key("lt_sweep");
    WriteLtRows(r.lt_sweep, w);
  }
  if (!r.lt_conditioning.empty()) {
    w.Key("lt_conditioning").BeginArray();
    for (const auto& c : r.lt_conditioning) {
      w.BeginObject()
          .Key("k").Int(c.k)
          .Key("decoder").String(c.decoder)
          .Key("seed").Int(static_cast<int64_t>(c.seed))
          .Key("symbols").Int(c.symbols)
          .Key("inactivations").Int(c.inactivations)
          .Key("decoder_amplification").Number(c.decoder_amplification)
          .Key("probe_amplification").Number(c.probe_amplification)
          .Key("ls_amplification").Number(c.ls_amplification)
          .EndObject();
    }
    w.EndArray();
  }
  w.Key("mds").BeginArray();
  for (const auto& m : r.mds) {
    w.BeginObject()
        .Key("generator").String(m.generator)
        .Key("m").Int(m.m)
        .Key("n").Int(m.n)
        .Key("subsets").Int(m.subsets)
        .Key("exhaustive").Bool(m.exhaustive)
        .Key("worst_cond").Number(m.worst_cond)
        .Key("worst_rel_error").Number(m.worst_rel_error)
        .Key("median_rel_error").Number(m.median_rel_error)
        .Key("refused").Int(m.refused)
        .Key("default").Bool(m.is_default)
        .EndObject();
  }
  w.EndArray();
  const TimingResult& t = r.timing;
  w.Key("timing").BeginObject()
      .Key("rows").Int(t.rows)
      .Key("inner").Int(t.inner)
      .Key("cols").Int(t.cols)
      .Key("backend").String(t.backend)
      .Key("local_product_s").Number(t.local_product_s)
      .Key("lt_encode_s").Number(t.lt.encode_s)
      .Key("lt_decode_s").Number(t.lt.decode_s)
      .Key("lt_tasks").Int(t.lt.tasks)
      .Key("lt_symbols").Int(t.lt.symbols)
      .Key("lt_rel_error").Number(t.lt.rel_error)
      .Key("lt_amplification").Number(t.lt.amplification)
      .Key("lt_inactivations").Int(t.lt.inactivations)
      .Key("lt_peeling_encode_s").Number(t.lt_peeling.encode_s)
      .Key("lt_peeling_decode_s").Number(t.lt_peeling.decode_s)
      .Key("lt_peeling_symbols").Int(t.lt_peeling.symbols)
      .Key("lt_peeling_rel_error").Number(t.lt_peeling.rel_error)
      .Key("lt_10rows_decode_s").Number(t.lt_blocked.decode_s)
      .Key("lt_10rows_symbols").Int(t.lt_blocked.symbols)
      .Key("local_rel_error").Number(t.local_rel_error)
      .Key("mds_encode_s").Number(t.mds_encode_s)
      .Key("mds_decode_s").Number(t.mds_decode_s)
      .Key("mds_rel_error").Number(t.mds_rel_error)
      .EndObject();
  w.EndObject();
  return w.str() + "\n";
}

}  // namespace codedge::bench
