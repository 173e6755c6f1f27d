// edge-bench: compares coding strategies. Sub-commands:
//   codes     LT overhead, MDS conditioning, encode/decode time (no cluster)
//   gemm      local product time per shape
//   overhead  the cluster machinery on loopback (issue 3 targets)
//   matmul    the paper's straggler experiments on a local cluster of processes
//   train     coded CNN training time per batch
//   privacy   what workers (and colluding workers) see of A per strategy
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/codes_bench.h"
#include "bench/gemm_bench.h"
#include "bench/matmul_bench.h"
#include "bench/overhead_bench.h"
#include "bench/scale_bench.h"
#include "bench/scenario.h"
#include "bench/status.h"
#include "bench/privacy_bench.h"
#include "bench/train_bench.h"
#include "common/address.h"
#include "common/flags_help.h"
#include "common/linalg.h"
#include "common/logging.h"
#include "common/process.h"
#include "proto/client_flags.h"
#include "proto/codedge.grpc.pb.h"

ABSL_FLAG(std::string, json, "", "Also write the results as JSON to this file");
ABSL_FLAG(int, runs, 500, "codes: LT seeds per (k, decoder)");
ABSL_FLAG(std::string, lt_k, "10,100,1000,10000", "codes: comma-separated LT source symbol counts");
ABSL_FLAG(double, lt_c, -1, "codes: robust soliton c (default: the library's)");
ABSL_FLAG(double, lt_delta, -1, "codes: robust soliton delta (default: the library's)");
ABSL_FLAG(int64_t, lt_max_inactive, 0, "codes: LT decoder's cap on inactive sources (0: the library's automatic cap)");
ABSL_FLAG(double, lt_surplus, -1,
          "codes: LT decoder's surplus (fraction of k) before its first elimination attempt (default: the library's)");
ABSL_FLAG(double, lt_max_amp, -1, "codes: LT decoder's max error amplification (0 = no check; default: the library's)");
ABSL_FLAG(bool, lt_sweep, false, "codes: also sweep (c, delta) at k = 100, 1000, 10000");
ABSL_FLAG(int, sweep_runs, 100, "codes: seeds per point of --lt_sweep");
ABSL_FLAG(int64_t, lt_ls_k, 0,
          "codes: > 0 compares the LT decoders' error with least squares on the same symbols at this k (dense: <= 5000)");
ABSL_FLAG(int, lt_ls_runs, 5, "codes: seeds per decoder of --lt_ls_k");
ABSL_FLAG(int64_t, mds_subsets, 3003, "codes: enumerate every n-subset when there are at most this many, else sample this many");
ABSL_FLAG(int, repeats, 0,
          "repetitions, the median is reported (0: the sub-command's default: codes/gemm/overhead 5, matmul 3 "
          "latency sets per point, 1 with --quick)");
ABSL_FLAG(std::string, model, "paper", "matmul: paper (per-worker latency sets, Schemes A/B) or initial-delay");
ABSL_FLAG(std::string, schemes, "A,B", "matmul: the paper's schemes to run (A, B)");
ABSL_FLAG(std::string, strategies, "",
          "matmul, train: strategies side by side on the same latencies (default: matmul "
          "uncoded,speculative,replication,mds,mds-systematic,lt; train the same without speculative; also: "
          "private, T-private with T = 2; lt:KEY=VALUE,KEY=VALUE sets LT options, e.g. "
          "'uncoded,lt:symbols_per_task=20,symbol_rows=8'); privacy: strategy specs "
          "(e.g. 'uncoded:k=10;mds:m=15,n=10'). ';' separates strategies when present, else ','");
ABSL_FLAG(absl::Duration, time_unit, absl::ZeroDuration(),
          "matmul, train: length of one latency unit (0: matmul 30ms for the paper model, 1s for initial-delay; train "
          "1ms; the paper's own latencies are in seconds)");
ABSL_FLAG(int, workers, 10, "matmul, train: edge-worker processes");
ABSL_FLAG(bool, quick, false, "matmul: fewer points and one repeat (make demo)");
ABSL_FLAG(double, cpu_quota, 0,
          "matmul, train: CPU quota per worker, fraction of one core (0: none; needs root and cgroups; the bound then "
          "counts each worker at that fraction of a core)");
ABSL_FLAG(double, slowdown, 1, "matmul: every worker's compute takes this many times longer (edge-worker --slowdown)");
ABSL_FLAG(std::string, delay_mode, "set", "matmul: set (t_i drawn once per worker) or per-task (a fresh draw per task)");
ABSL_FLAG(double, mu, 1.0, "matmul initial-delay: mean start delay (units)");
ABSL_FLAG(double, row_units, 0.001, "matmul initial-delay: time per row (units)");
ABSL_FLAG(int64_t, rows, 10000, "matmul initial-delay: rows of A");
ABSL_FLAG(std::string, lt, "", "matmul: options of the lt strategy, e.g. symbols_per_task=20");
ABSL_FLAG(std::string, csv, "", "matmul, train: also write the results as CSV to this file");
ABSL_FLAG(int64_t, batches, 10, "train: batches of 50 per strategy and distribution");
ABSL_FLAG(std::string, plots, "", "matmul, train: write gnuplot data, script and PNG/SVG figures into this directory");
ABSL_FLAG(std::string, shapes, "10000x1000x10,1000x1000x1000,25088x27x32,6272x288x64",
          "gemm: comma-separated MxKxN product shapes (defaults: the codes benchmark's and CNN-like im2col shapes)");
ABSL_FLAG(std::string, scale_workers, "10,100,500", "scale: comma-separated worker counts (one server each)");
ABSL_FLAG(int, cells, 2, "scale: also split the largest worker count over this many servers (1: no split run)");
ABSL_FLAG(double, seconds, 2, "scale: seconds of tiny jobs per point");
ABSL_FLAG(int, threads, 1, "gemm: threads per product (0 = all cores)");
ABSL_FLAG(uint64_t, seed, 1, "Seed of every random choice (printed in the report)");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error or off");
// matmul --server also takes the client security flags (proto/client_flags.h).
ABSL_FLAG(std::string, server, "",
          "matmul: measure a running cluster at host:port (its own workers and latencies; no launcher, no T*); "
          "status: the server to ask");

namespace {

constexpr char kUsage[] =
    "edge-bench SUBCOMMAND [flags]\n"
    "  codes   LT reception overhead, MDS conditioning and float32 error, encode/decode time\n"
    "  gemm    local float32 product time per shape (Eigen vs OpenBLAS builds)\n"
    "  overhead  cluster machinery on loopback: end to end vs bound, dispatch rate\n"
    "  scale   one server's limits (workers, tasks/s, bytes/s) and the same workers split over --cells servers\n"
    "  matmul  the paper's straggler experiments on a local cluster of processes, against the ideal bound\n"
    "  train   time per batch of coded CNN training on 10 straggling workers, per strategy and latency\n"
    "  privacy  raw rows of A each strategy sends, and what c colluding workers reconstruct\n"
    "  private  the T-private (Lagrange) code against MDS on the same product: time per stage, error\n"
    "  status  --server HOST:PORT: the workers a running server sees (speed, tasks, last seen), jobs in flight\n"
    "Examples: edge-bench codes --json codes.json\n"
    "          edge-bench matmul --plots plots/ --csv matmul.csv\n"
    "          edge-bench matmul --model initial-delay";

// Makes `dir` (and its parents) if missing; false, saying why, if it cannot.
bool MakeFolder(const std::filesystem::path& dir, const std::string& what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) std::cerr << "edge-bench: cannot create " << what << ": " << ec.message() << "\n";
  return !ec;
}

// An output file named by a flag: opened before the work (a bad path fails
// in a second, not after an hour of benchmarking), written after it.
class OutputFile {
 public:
  // False (and says why) if the file cannot be created; no path: nothing to do.
  bool Open(const std::string& path, const char* flag) {
    path_ = path;
    if (path.empty()) return true;
    // Its folder is made if missing (as --plots makes its own).
    if (const std::filesystem::path dir = std::filesystem::path(path).parent_path();
        !dir.empty() && !MakeFolder(dir, absl::StrCat("the folder of ", flag, " file '", path, "'"))) {
      return false;
    }
    out_.open(path);
    if (!out_) std::cerr << "edge-bench: cannot write " << flag << " file '" << path << "': " << std::strerror(errno) << "\n";
    return static_cast<bool>(out_);
  }
  // False (and says why) if writing fails.
  bool Write(const std::string& text) {
    if (path_.empty()) return true;
    out_ << text;
    out_.close();
    if (!out_) std::cerr << "edge-bench: writing '" << path_ << "' failed\n";
    return static_cast<bool>(out_);
  }
  bool enabled() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

// --plots: its folder made and writable before the work, like OutputFile.
bool PlotsFolderReady(const std::string& dir) {
  if (dir.empty()) return true;
  if (!MakeFolder(dir, absl::StrCat("the --plots folder '", dir, "'"))) return false;
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    std::cerr << "edge-bench: cannot write into the --plots folder '" << dir << "': " << std::strerror(errno) << "\n";
    return false;
  }
  return true;
}

int Repeats(int fallback) {
  const int r = absl::GetFlag(FLAGS_repeats);
  return r > 0 ? r : fallback;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) out.emplace_back(part);
  return out;
}

int RunMatmul() {
  codedge::bench::MatmulOptions o;
  o.model = absl::GetFlag(FLAGS_model);
  o.schemes = SplitList(absl::GetFlag(FLAGS_schemes));
  if (!absl::GetFlag(FLAGS_strategies).empty()) o.strategies = codedge::bench::SplitStrategies(absl::GetFlag(FLAGS_strategies));
  o.time_unit = absl::GetFlag(FLAGS_time_unit);
  o.workers = absl::GetFlag(FLAGS_workers);
  o.quick = absl::GetFlag(FLAGS_quick);
  o.repeats = Repeats(o.quick ? 1 : 3);
  o.cpu_quota = absl::GetFlag(FLAGS_cpu_quota);
  o.slowdown = absl::GetFlag(FLAGS_slowdown);
  o.delay_mode = absl::GetFlag(FLAGS_delay_mode);
  o.mu = absl::GetFlag(FLAGS_mu);
  o.row_units = absl::GetFlag(FLAGS_row_units);
  o.rows = absl::GetFlag(FLAGS_rows);
  o.lt_spec = absl::GetFlag(FLAGS_lt);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.server = absl::GetFlag(FLAGS_server);
  if (!o.server.empty()) {
    auto security = codedge::ClientSecurityFromFlags();  // --insecure, --tls_*, --token_file
    if (!security.ok()) {
      std::cerr << "edge-bench: --server: " << security.status().message() << "\n";
      return 2;
    }
    o.security = *security;
  }
  OutputFile json, csv;
  if (!json.Open(absl::GetFlag(FLAGS_json), "--json") || !csv.Open(absl::GetFlag(FLAGS_csv), "--csv") ||
      !PlotsFolderReady(absl::GetFlag(FLAGS_plots))) {
    return 2;
  }
  auto r = codedge::bench::RunMatmulBench(o);
  if (!r.ok()) {
    std::cerr << "edge-bench matmul: " << r.status() << "\n";
    return r.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  codedge::bench::PrintMatmulTable(*r, std::cout);
  if (!json.Write(codedge::bench::MatmulJson(*r, o)) || !csv.Write(codedge::bench::MatmulCsv(*r))) return 1;
  if (const std::string dir = absl::GetFlag(FLAGS_plots); !dir.empty()) {
    if (absl::Status s = codedge::bench::WriteMatmulPlots(*r, dir); !s.ok()) {
      std::cerr << "edge-bench matmul: plots: " << s.message() << "\n";
      return 1;
    }
    std::cout << "figures (.png, .svg) and their gnuplot data and script in " << dir << "\n";
  }
  return 0;
}

int RunTrain() {
  codedge::bench::TrainBenchOptions o;
  if (!absl::GetFlag(FLAGS_strategies).empty()) o.strategies = codedge::bench::SplitStrategies(absl::GetFlag(FLAGS_strategies));
  OutputFile json, csv;
  if (!json.Open(absl::GetFlag(FLAGS_json), "--json") || !csv.Open(absl::GetFlag(FLAGS_csv), "--csv") ||
      !PlotsFolderReady(absl::GetFlag(FLAGS_plots))) {
    return 2;
  }
  o.workers = absl::GetFlag(FLAGS_workers);
  o.batches = absl::GetFlag(FLAGS_batches);
  if (absl::GetFlag(FLAGS_time_unit) > absl::ZeroDuration()) o.time_unit = absl::GetFlag(FLAGS_time_unit);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.cpu_quota = absl::GetFlag(FLAGS_cpu_quota);
  auto r = codedge::bench::RunTrainBench(o);
  if (!r.ok()) {
    std::cerr << "edge-bench train: " << r.status() << "\n";
    return r.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  codedge::bench::PrintTrainTable(*r, std::cout);
  if (!json.Write(codedge::bench::TrainJson(*r)) || !csv.Write(codedge::bench::TrainCsv(*r))) return 1;
  if (const std::string dir = absl::GetFlag(FLAGS_plots); !dir.empty()) {
    if (absl::Status s = codedge::bench::WriteTrainPlots(*r, dir); !s.ok()) {
      std::cerr << "edge-bench train: plots: " << s.message() << "\n";
      return 1;
    }
    std::cout << "figure (train.png, train.svg) and its gnuplot data and script in " << dir << "\n";
  }
  return 0;
}

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
  o.lt_surplus = absl::GetFlag(FLAGS_lt_surplus);
  o.lt_max_inactive = absl::GetFlag(FLAGS_lt_max_inactive);
  o.lt_sweep = absl::GetFlag(FLAGS_lt_sweep);
  o.sweep_runs = absl::GetFlag(FLAGS_sweep_runs);
  o.lt_ls_k = absl::GetFlag(FLAGS_lt_ls_k);
  o.lt_ls_runs = absl::GetFlag(FLAGS_lt_ls_runs);
  o.mds_max_subsets = absl::GetFlag(FLAGS_mds_subsets);
  o.timing_repeats = Repeats(5);
  o.seed = absl::GetFlag(FLAGS_seed);

  OutputFile json;
  if (!json.Open(absl::GetFlag(FLAGS_json), "--json")) return 2;
  auto result = codedge::bench::RunCodesBench(o);
  if (!result.ok()) {
    std::cerr << "edge-bench codes: " << result.status() << "\n";
    return result.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cout << "edge-bench codes (seed " << o.seed << ")\n\n";
  codedge::bench::PrintCodesTable(*result, std::cout);
  if (!json.Write(codedge::bench::CodesJson(*result))) return 1;
  if (json.enabled()) std::cout << "\nJSON written to " << json.path() << "\n";
  return 0;
}

int RunPrivacy() {
  codedge::bench::PrivacyOptions o;
  o.rows = absl::GetFlag(FLAGS_rows);
  o.workers = absl::GetFlag(FLAGS_workers);
  if (!absl::GetFlag(FLAGS_strategies).empty()) o.strategies = codedge::bench::SplitStrategies(absl::GetFlag(FLAGS_strategies));
  OutputFile json;
  if (!json.Open(absl::GetFlag(FLAGS_json), "--json")) return 2;
  auto result = codedge::bench::RunPrivacyBench(o);
  if (!result.ok()) {
    std::cerr << "edge-bench privacy: " << result.status() << "\n";
    return result.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  codedge::bench::PrintPrivacyTable(*result, o, std::cout);
  if (!json.Write(codedge::bench::PrivacyJson(*result, o))) return 1;
  if (json.enabled()) std::cout << "\nJSON written to " << json.path() << "\n";
  return 0;
}

// edge-bench status --server ADDR: the cluster as the server sees it.
int RunStatus() {
  const std::string server = absl::GetFlag(FLAGS_server);
  if (server.empty()) {
    std::cerr << "edge-bench status: give --server HOST:PORT (and its security flags)\n";
    return 2;
  }
  auto security = codedge::ClientSecurityFromFlags();
  if (!security.ok()) {
    std::cerr << "edge-bench status: " << security.status().message() << "\n";
    return 2;
  }
  auto status = codedge::bench::FetchClusterStatus(server, *security);
  if (!status.ok()) {
    std::cerr << "edge-bench status: " << status.status().message() << "\n";
    return 1;
  }
  codedge::bench::PrintClusterStatus(*status, server, absl::Now(), std::cout);
  return 0;
}

int RunPrivate() {
  codedge::bench::PrivateCostOptions o;
  o.rows = absl::GetFlag(FLAGS_rows);
  o.repeats = Repeats(3);
  o.seed = absl::GetFlag(FLAGS_seed);
  auto result = codedge::bench::RunPrivateCostBench(o);
  if (!result.ok()) {
    std::cerr << "edge-bench private: " << result.status() << "\n";
    return result.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  codedge::bench::PrintPrivateCostTable(*result, o, std::cout);
  return 0;
}

int RunOverhead() {
  codedge::bench::OverheadOptions o;
  OutputFile json;
  if (!json.Open(absl::GetFlag(FLAGS_json), "--json")) return 2;
  o.repeats = Repeats(5);
  o.seed = absl::GetFlag(FLAGS_seed);
  auto r = codedge::bench::RunOverheadBench(o);
  if (!r.ok()) {
    std::cerr << "edge-bench overhead: " << r.status() << "\n";
    return r.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  codedge::bench::PrintOverheadTable(*r, o, std::cout);
  return json.Write(codedge::bench::OverheadJson(*r)) ? 0 : 1;
}

int RunScale() {
  codedge::bench::ScaleOptions o;
  OutputFile json;
  if (!json.Open(absl::GetFlag(FLAGS_json), "--json")) return 2;
  o.workers.clear();
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_scale_workers), ',', absl::SkipEmpty())) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n)) {
      std::cerr << "edge-bench scale: --scale_workers: '" << part << "' is not a number\n";
      return 2;
    }
    o.workers.push_back(n);
  }
  o.cells = absl::GetFlag(FLAGS_cells);
  o.seconds = absl::GetFlag(FLAGS_seconds);
  o.seed = absl::GetFlag(FLAGS_seed);
  auto r = codedge::bench::RunScaleBench(o);
  if (!r.ok()) {
    std::cerr << "edge-bench scale: " << r.status() << "\n";
    return r.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  codedge::bench::PrintScaleTable(*r, o, std::cout);
  return json.Write(codedge::bench::ScaleJson(*r)) ? 0 : 1;
}

int RunGemm() {
  auto shapes = codedge::bench::ParseGemmShapes(absl::GetFlag(FLAGS_shapes));
  if (!shapes.ok()) {
    std::cerr << "edge-bench gemm: --shapes: " << shapes.status().message() << "\n";
    return 2;
  }
  auto rows = codedge::bench::RunGemmBench(*shapes, absl::GetFlag(FLAGS_threads), Repeats(5),
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
  codedge::ListOurFlagsInHelp();
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
  // Flags whose 0 or -1 means "the default": any other out-of-range value
  // is an error, not the default in disguise.
  if (absl::GetFlag(FLAGS_repeats) < 0) {
    std::cerr << "edge-bench: --repeats must be >= 1 (0: the sub-command's default), got "
              << absl::GetFlag(FLAGS_repeats) << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_time_unit) < absl::ZeroDuration()) {
    std::cerr << "edge-bench: --time_unit must be > 0 (0: the sub-command's default), got "
              << absl::FormatDuration(absl::GetFlag(FLAGS_time_unit)) << "\n";
    return 2;
  }
  if (const double c = absl::GetFlag(FLAGS_lt_c); c != -1 && !(c > 0 && std::isfinite(c))) {
    std::cerr << "edge-bench: --lt_c must be > 0 (unset: the library's default), got " << c << "\n";
    return 2;
  }
  if (const double d = absl::GetFlag(FLAGS_lt_delta); d != -1 && !(d > 0 && d < 1)) {
    std::cerr << "edge-bench: --lt_delta must be in (0, 1) (unset: the library's default), got " << d << "\n";
    return 2;
  }
  if (const double q = absl::GetFlag(FLAGS_cpu_quota); !(q >= 0 && std::isfinite(q))) {
    std::cerr << "edge-bench: --cpu_quota must be >= 0 (cores per worker; 0: none), got " << q << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_threads) < 0) {
    std::cerr << "edge-bench: --threads must be >= 0 (0: all cores), got " << absl::GetFlag(FLAGS_threads) << "\n";
    return 2;
  }
  if (const std::string server = absl::GetFlag(FLAGS_server); !server.empty()) {
    if (absl::Status s = codedge::CheckHostPort(server, "--server", /*listen=*/false); !s.ok()) {
      std::cerr << "edge-bench: " << s.message() << "\n";
      return 2;
    }
  }
  const std::string cmd = args[1];
  // Every sub-command runs single-thread products (in-process workers
  // included), except `gemm --threads N`.
  codedge::EnsureBlasEnvironment(cmd == "gemm" ? absl::GetFlag(FLAGS_threads) : 1, argv);
  if (cmd == "codes") return RunCodes();
  if (cmd == "gemm") return RunGemm();
  if (cmd == "overhead") return RunOverhead();
  if (cmd == "scale") return RunScale();
  if (cmd == "matmul") return RunMatmul();
  if (cmd == "train") return RunTrain();
  if (cmd == "privacy") return RunPrivacy();
  if (cmd == "private") return RunPrivate();
  if (cmd == "status") return RunStatus();
  std::cerr << "edge-bench: unknown sub-command '" << cmd << "'\n" << kUsage << "\n";
  return 2;
}
