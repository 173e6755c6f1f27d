// LT (Luby transform) codes at row granularity (paper, sec. 3.3; Luby 2002).
//
// A is cut into k source symbols of `symbol_rows` rows (default 1: k = rows,
// tens of thousands). Coded symbol i is the sum of d distinct source symbols,
// d drawn from the robust soliton distribution; both d and the neighbours are
// drawn from a Pcg32 seeded by MixSeed(seed, i), so symbol i can be generated
// alone, on demand (rateless), identically by the server and by tests. Task t
// groups symbols [t * symbols_per_task, (t + 1) * symbols_per_task).
// Addition and subtraction of float rows replace XOR.
//
// Decoding is incremental: as symbols arrive the decoder peels their structure
// (a symbol with one unknown source determines it, which may release others).
// When peeling stalls with at least as many unused symbols as unknown
// sources (plus `elimination_surplus` x k, rounded down: 0.1 % by default,
// so from k = 1000 on; a square 0/1 system is rank deficient more often
// than not), the decoder (with `elimination`) plans the
// residual by inactivation decoding: it keeps peeling after declaring a few
// sources "inactive" unknowns, then solves a small dense least-squares
// system over them (its integer coefficients built in int32 when they fit:
// `integer_core`). Values
// are computed in double along a best-first plan that keeps float rounding
// from compounding along peeling chains, and the decoder checks its own
// accuracy on a random probe before it says "decodable" (lt.cc explains).
// Correctness is exact arithmetic's: on data whose sums are exact in float
// (small integers) the decode is exact.
//
// Degree-1 symbols are raw rows of A: a task exposes those rows (Exposure).
#ifndef CODEDGE_CODES_LT_H_
#define CODEDGE_CODES_LT_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "codes/code.h"
#include "common/random.h"

namespace codedge {

struct LtParams {
  // Robust soliton parameters; defaults chosen by `edge-bench codes`
  // (BENCHMARKS.md): lowest overhead at k = 100..10000 among the settings
  // whose decode stays cheap (fewest inactivations), and at the k of 9-100
  // a training product has (images or channels). c = 0: by k, DefaultLtC.
  double c = 0;
  double delta = 0.05;
  int64_t symbol_rows = 1;       // rows of A per source symbol
  int64_t symbols_per_task = 0;  // 0: ceil(k / 100), i.e. about 100 tasks decode
  bool elimination = true;       // inactivation fallback when peeling stalls
  int64_t max_inactivations = 0; // 0: automatic cap (see lt.cc); larger systems wait for more symbols
  // Elimination is first attempted once the unused equations outnumber the
  // unknown sources by this fraction of k (rounded down).
  double elimination_surplus = 0.001;
  // Build the inactivation core's integer coefficients in int32 when no sum
  // can overflow (half the memory traffic of double; exact either way, so
  // the decode is identical); false: always double (for comparison).
  bool integer_core = true;
  // Threads that apply the plan to a large product's values (bands of
  // symbol rows, independent; from 2^20 values up): 0 = this machine's
  // cores, at most 4. The decode is identical for any count.
  int decode_threads = 0;
  // For a server: size each task so it takes about this long on the worker
  // it goes to (from the worker's measured multiply-adds per second; its first
  // two tasks of a job a quarter and a half of that); 0: every task has
  // symbols_per_task symbols. Not used by the code itself. 10 ms, measured
  // (BENCHMARKS.md, session 8): against 20 ms, CNN training's products were
  // 3-17 % faster under normal and exponential straggler latencies (uniform:
  // within +-5 %) and 5-7 % faster without stragglers; 5 ms was slower on
  // the initial-delay matmul model (1.084 x T* against 1.049).
  double task_seconds = 0.01;
  // Declare "decodable" only when decoding amplifies the relative rounding
  // error of the workers' results by at most this factor, as measured by a
  // probe solve on the received structure (random data plus noise of relative
  // size 2^-24); otherwise wait for more symbols, which let the best-first
  // solve pick better-conditioned equations. 0 disables the check.
  // Default chosen by `edge-bench codes` (BENCHMARKS.md). With 0 nothing
  // judges the core's conditioning: a numerically singular core decodes to
  // garbage instead of waiting for more symbols.
  double max_error_amplification = 1000;
  uint64_t seed = 1;
};

// The robust soliton distribution for k source symbols: element d-1 is the
// probability of degree d (size k, sums to 1). Requires k >= 1, c > 0,
// 0 < delta < 1; InvalidArgument otherwise.
absl::StatusOr<std::vector<double>> RobustSoliton(int64_t k, double c, double delta);
// LtParams::c = 0 means this for k source symbols: 0.1 up to k = 100, where
// it needs fewer symbols than 0.03 (k = 16: 14 % more than k against 25 %),
// and 0.03 above, where 0.1 doubles the inactivations (the decode's cost).
double DefaultLtC(int64_t k);

class LtCode : public Code {
 public:
  // InvalidArgument for rows < 1, symbol_rows < 1, symbols_per_task < 0,
  // k > 2^31 - 1, or bad soliton parameters.
  static absl::StatusOr<std::unique_ptr<LtCode>> Create(int64_t rows, const LtParams& params);

  std::string name() const override;
  std::optional<int64_t> num_tasks() const override { return std::nullopt; }
  // Any id in [0, 2^62 / symbols_per_task) is valid; OutOfRange otherwise.
  absl::StatusOr<TaskSpec> Task(int64_t id) const override;
  absl::Status CheckTaskId(int64_t id) const override;
  int64_t symbols_per_task() const override { return params_.symbols_per_task; }
  // Symbols [first_symbol, first_symbol + count), count in [1, 2^20].
  absl::StatusOr<TaskSpec> TaskOfSymbols(int64_t id, int64_t first_symbol, int64_t count) const override;
  bool variable_task_sizes() const override { return true; }
  std::unique_ptr<Decoder> NewDecoder() const override;

  // Coded symbol `index` (>= 0), coefficients all 1.
  CodedSymbol Symbol(int64_t index) const;

  const LtParams& params() const { return params_; }  // c and symbols_per_task resolved
  int64_t k() const { return layout().num_symbols; }
  double mean_degree() const { return mean_degree_; }

 private:
  LtCode(SourceLayout layout, LtParams params, std::vector<double> degrees);
  LtParams params_;
  DiscreteSampler degree_sampler_;
  double mean_degree_;
};

}  // namespace codedge

#endif  // CODEDGE_CODES_LT_H_
