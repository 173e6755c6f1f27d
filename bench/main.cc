// edge-bench: compares coding strategies. Sub-commands:
//   codes   LT overhead, MDS conditioning, encode/decode time (no cluster)
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/codes_bench.h"
#include "bench/gemm_bench.h"
#include "bench/overhead_bench.h"
#include "common/linalg.h"
#include "common/logging.h"
#include "common/process.h"

ABSL_FLAG(std::string, json, "", "Also write the results as JSON to this file");
ABSL_FLAG(int, runs, 500, "codes: LT seeds per (k, decoder)");
ABSL_FLAG(std::string, lt_k, "10,100,1000,10000", "codes: comma-separated LT source symbol counts");
ABSL_FLAG(double, lt_c, -1, "codes: robust soliton c (default: the library's)");
ABSL_FLAG(double, lt_delta, -1, "codes: robust soliton delta (default: the library's)");
ABSL_FLAG(double, lt_max_amp, -1, "codes: LT decoder's max error amplification (0 = no check; default: the library's)");
ABSL_FLAG(bool, lt_sweep, false, "codes: also sweep (c, delta) at k = 100, 1000, 10000");
ABSL_FLAG(int, sweep_runs, 100, "codes: seeds per point of --lt_sweep");
ABSL_FLAG(int64_t, mds_subsets, 3003, "codes: enumerate every n-subset when there are at most this many, else sample this many");
ABSL_FLAG(int, repeats, 5, "codes: timing repetitions (the median is reported)");
ABSL_FLAG(std::string, shapes, "10000x1000x10,1000x1000x1000,25088x27x32,6272x288x64",
          "gemm: comma-separated MxKxN product shapes (defaults: the codes benchmark's and CNN-like im2col shapes)");
ABSL_FLAG(int, threads, 1, "gemm: threads per product (0 = all cores)");
ABSL_FLAG(uint64_t, seed, 1, "Seed of every random choice (printed in the report)");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error or off");

namespace {

constexpr char kUsage[] =
    "edge-bench SUBCOMMAND [flags]\n"
    "  codes   LT reception overhead, MDS conditioning and float32 error, encode/decode time\n"
    "  gemm    local float32 product time per shape (Eigen vs OpenBLAS builds)\n"
    "  overhead  cluster machinery on loopback: end to end vs bound, dispatch rate\n"
    "Example: edge-bench codes --json codes.json";

int RunCodes() {
  codedge::bench::CodesBenchOptions o;
  o.runs = absl::GetFlag(FLAGS_runs);
  o.lt_ks.clear();
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_lt_k), ',', absl::SkipEmpty())) {
    int64_t k;
    if (!absl::SimpleAtoi(part, &k)) {
      std::cerr << "edge-bench: --lt_k: '" << part << "' is not an integer\n";
      return 2;
    }
    o.lt_ks.push_back(k);
  }
  o.lt_c = absl::GetFlag(FLAGS_lt_c);
  o.lt_delta = absl::GetFlag(FLAGS_lt_delta);
  o.lt_max_amplification = absl::GetFlag(FLAGS_lt_max_amp);
  o.lt_sweep = absl::GetFlag(FLAGS_lt_sweep);
  o.sweep_runs = absl::GetFlag(FLAGS_sweep_runs);
  o.mds_max_subsets = absl::GetFlag(FLAGS_mds_subsets);
  o.timing_repeats = absl::GetFlag(FLAGS_repeats);
  o.seed = absl::GetFlag(FLAGS_seed);

  const std::string json_path = absl::GetFlag(FLAGS_json);
  std::ofstream json;
  if (!json_path.empty()) {  // fail before an hour of work, not after
    json.open(json_path);
    if (!json) {
      std::cerr << "edge-bench: cannot write --json file '" << json_path << "'\n";
      return 2;
    }
  }
  auto result = codedge::bench::RunCodesBench(o);
  if (!result.ok()) {
    std::cerr << "edge-bench codes: " << result.status() << "\n";
    return result.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cout << "edge-bench codes (seed " << o.seed << ")\n\n";
  codedge::bench::PrintCodesTable(*result, std::cout);
  if (json.is_open()) {
    json << codedge::bench::CodesJson(*result);
    json.close();
    if (!json) {
      std::cerr << "edge-bench: writing '" << json_path << "' failed\n";
      return 1;
    }
    std::cout << "\nJSON written to " << json_path << "\n";
  }
  return 0;
}

int RunOverhead() {
  codedge::bench::OverheadOptions o;
  o.repeats = absl::GetFlag(FLAGS_repeats);
  o.seed = absl::GetFlag(FLAGS_seed);
  auto r = codedge::bench::RunOverheadBench(o);
  if (!r.ok()) {
    std::cerr << "edge-bench overhead: " << r.status() << "\n";
    return r.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  codedge::bench::PrintOverheadTable(*r, o, std::cout);
  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    std::ofstream json(json_path);
    json << codedge::bench::OverheadJson(*r);
    if (!json) {
      std::cerr << "edge-bench: writing '" << json_path << "' failed\n";
      return 1;
    }
  }
  return 0;
}

int RunGemm() {
  auto shapes = codedge::bench::ParseGemmShapes(absl::GetFlag(FLAGS_shapes));
  if (!shapes.ok()) {
    std::cerr << "edge-bench gemm: --shapes: " << shapes.status().message() << "\n";
    return 2;
  }
  auto rows = codedge::bench::RunGemmBench(*shapes, absl::GetFlag(FLAGS_threads), absl::GetFlag(FLAGS_repeats),
                                           absl::GetFlag(FLAGS_seed));
  if (!rows.ok()) {
    std::cerr << "edge-bench gemm: " << rows.status() << "\n";
    return rows.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  codedge::bench::PrintGemmTable(*rows, std::cout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  codedge::TuneProcess();
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (auto s = codedge::SetLogLevel(absl::GetFlag(FLAGS_log_level)); !s.ok()) {
    std::cerr << "edge-bench: --log_level: " << s.message() << "\n";
    return 2;
  }
  if (args.size() != 2) {
    std::cerr << (args.size() < 2 ? "edge-bench: missing sub-command\n" : "edge-bench: too many arguments\n")
              << kUsage << "\n";
    return 2;
  }
  const std::string cmd = args[1];
  // Every sub-command runs single-thread products (in-process workers
  // included), except `gemm --threads N`.
  codedge::EnsureBlasPoolSize(cmd == "gemm" ? absl::GetFlag(FLAGS_threads) : 1, argv);
  if (cmd == "codes") return RunCodes();
  if (cmd == "gemm") return RunGemm();
  if (cmd == "overhead") return RunOverhead();
  std::cerr << "edge-bench: unknown sub-command '" << cmd << "'\n" << kUsage << "\n";
  return 2;
}
