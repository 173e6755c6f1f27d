// `edge-bench codes`: reception overhead of LT codes, conditioning and float32
// decode error of MDS generators, and encode/decode time beside the local
// product. Options -> runner (verifies every decode before it counts or times
// anything) -> reporters (console table, JSON).
#ifndef CODEDGE_BENCH_CODES_BENCH_H_
#define CODEDGE_BENCH_CODES_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace codedge::bench {

struct CodesBenchOptions {
  int runs = 500;                     // LT seeds per (k, decoder)
  std::vector<int64_t> lt_ks = {10, 100, 1000, 10000};
  double lt_c = -1;                   // < 0: the library default (LtParams)
  double lt_delta = -1;
  double lt_max_amplification = -1;   // < 0: the library default
  int64_t lt_max_inactive = 0;        // LtParams::max_inactivations (0: the library's automatic cap)
  double lt_surplus = -1;             // LtParams::elimination_surplus (< 0: the library default)
  bool lt_sweep = false;              // also sweep (c, delta) for choosing defaults
  int sweep_runs = 100;
  // > 0: also compare, at this k, the LT decoder's error with the least-
  // squares solution of the same received symbols (dense, O(k^3): keep
  // k <= ~2000), lt_ls_runs seeds per decoder.
  int64_t lt_ls_k = 0;
  int lt_ls_runs = 5;
  int64_t mds_max_subsets = 3003;     // enumerate all when C(m,n) <= this, else sample
  int64_t timing_rows = 10000, timing_inner = 1000, timing_cols = 10;
  int timing_repeats = 5;
  uint64_t seed = 1;
};

struct LtOverheadRow {
  int64_t k = 0;
  std::string decoder;  // "peeling" | "peeling+elimination"
  double c = 0, delta = 0, max_amplification = 0;
  int runs = 0;
  double overhead_mean = 0, overhead_p99 = 0, overhead_max = 0;
  double attempts_mean = 0;       // elimination attempts per run
  double inactivations_mean = 0;  // inactive sources in the successful solve
  double amplification_max = 0;   // decoder's probe estimate, worst run
  double rel_error_max = 0;       // measured decode error, worst run (data rounded once to float)
  double seconds = 0;             // wall time for all runs
};

// One seed: the LT decoder (peeling alone or with elimination) stops at
// `symbols`; the same received system solved by least squares (every symbol,
// Householder QR with column pivoting, in double). Errors are measured on
// data rounded once to float32 per symbol, relative, in units of 2^-24.
// Rows of decoder "least squares only" solve the first k (1 + overhead)
// symbols for overheads of 1, 2, 4 and 8 % (no LT decoder: NaN there;
// infinite if those symbols do not determine the sources yet).
struct LtConditioningRow {
  int64_t k = 0;
  std::string decoder;
  uint64_t seed = 0;
  int64_t symbols = 0;
  int64_t inactivations = 0;
  double decoder_amplification = 0;  // measured
  double probe_amplification = 0;    // the decoder's own estimate
  double ls_amplification = 0;       // measured, same symbols and values
};

struct MdsRow {
  std::string generator;
  int64_t m = 0, n = 0, subsets = 0;
  int64_t refused = 0;  // subsets the decoder declared numerically singular
  bool exhaustive = false;
  double worst_cond = 0, worst_rel_error = 0, median_rel_error = 0;
  bool is_default = false;
};

struct LtTiming {
  std::string code;
  double encode_s = 0, decode_s = 0;
  int64_t tasks = 0, symbols = 0, inactivations = 0;
  double rel_error = 0, amplification = 0;
};

struct TimingResult {
  int64_t rows = 0, inner = 0, cols = 0;
  std::string backend;
  double local_product_s = 0;
  LtTiming lt;          // default decoder (peeling + elimination)
  LtTiming lt_peeling;  // peeling alone
  LtTiming lt_blocked;  // 10 rows per symbol (k = rows / 10), default decoder
  double local_rel_error = 0;  // the float32 local product against the exact one
  double mds_encode_s = 0, mds_decode_s = 0;
  double mds_rel_error = 0;
  std::string mds_code;
};

struct CodesBenchResult {
  std::vector<LtOverheadRow> lt;
  std::vector<LtOverheadRow> lt_sweep;
  std::vector<LtConditioningRow> lt_conditioning;
  std::vector<MdsRow> mds;
  TimingResult timing;
};

// Runs everything; progress lines go to the log. Errors: InvalidArgument for
// bad options, Internal if a decode does not reproduce the local product.
absl::StatusOr<CodesBenchResult> RunCodesBench(const CodesBenchOptions& options);

void PrintCodesTable(const CodesBenchResult& result, std::ostream& out);
std::string CodesJson(const CodesBenchResult& result);

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_CODES_BENCH_H_
