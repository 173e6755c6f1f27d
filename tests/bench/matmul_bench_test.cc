#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <vector>

#include "bench/launcher.h"
#include "bench/matmul_bench.h"
#include "bench/scenario.h"
#include "codes/factory.h"
#include "common/random.h"

namespace codedge::bench {
namespace {

// Oracle: the fluid bound by bisection on "work done by time T".
double BisectIdeal(const std::vector<double>& start, const std::vector<double>& speed, double rows) {
  auto work = [&](double t) {
    double w = 0;
    for (size_t i = 0; i < start.size(); ++i) w += speed[i] * std::max(0.0, t - start[i]);
    return w;
  };
  double lo = 0, hi = 1;
  while (work(hi) < rows) hi *= 2;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (work(mid) < rows ? lo : hi) = mid;
  }
  return hi;
}

TEST_CASE("The strategies flag keeps the options of each strategy together", "[bench]") {
  using V = std::vector<std::string>;
  CHECK(SplitStrategies("uncoded,mds,lt") == V{"uncoded", "mds", "lt"});
  CHECK(SplitStrategies("uncoded,lt:symbols_per_task=20,symbol_rows=8,mds") ==
        V{"uncoded", "lt:symbols_per_task=20,symbol_rows=8", "mds"});
  CHECK(SplitStrategies("uncoded:k=10;mds:m=15,n=10") == V{"uncoded:k=10", "mds:m=15,n=10"});
  CHECK(SplitStrategies("uncoded:k=10,mds:m=15,n=10") == V{"uncoded:k=10", "mds:m=15,n=10"});
  CHECK(SplitStrategies(",lt,,") == V{"lt"});
  // A stray option with nothing before it stays a (bad) strategy of its own:
  // StrategySpec refuses it by name.
  CHECK(SplitStrategies("n=10,lt") == V{"n=10", "lt"});
  CHECK(!StrategySpec("n=10", 10).ok());
  auto lt = StrategySpec(SplitStrategies("lt:symbols_per_task=20,symbol_rows=8")[0], 10);
  REQUIRE(lt.ok());
  CHECK(*lt == "lt:symbols_per_task=20,symbol_rows=8");
}

TEST_CASE("Bench strategy names map to code specs and lt options in a name win over the bench defaults", "[matmul]") {
  CHECK(*StrategySpec("mds", 10) == "mds:m=15,n=10");
  CHECK(*StrategySpec("lt", 10, "symbol_rows=64") == "lt:symbol_rows=64");
  const auto lt = StrategySpec("lt:task_seconds=0.005", 10, "symbol_rows=64");
  REQUIRE(lt.ok());
  auto spec = ParseCodeSpec(*lt);
  REQUIRE(spec.ok());
  CHECK(spec->lt.task_seconds == 0.005);
  CHECK(spec->lt.symbol_rows == 64);
  spec = ParseCodeSpec(*StrategySpec("lt:symbol_rows=8", 10, "symbol_rows=64"));
  REQUIRE(spec.ok());
  CHECK(spec->lt.symbol_rows == 8);
  CHECK(StrategySpec("fountain", 10).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("IdealCompletionTime equals the bisection of the fluid bound", "[matmul]") {
  Pcg32 rng(5, 5);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + static_cast<int>(rng.UniformInt(12));
    std::vector<double> start(n), speed(n);
    for (int i = 0; i < n; ++i) {
      start[i] = rng.Exponential(1.0);
      speed[i] = rng.Uniform(0.1, 10.0);
    }
    const double rows = rng.Uniform(0.5, 1000.0);
    auto t = IdealCompletionTime(start, speed, rows);
    REQUIRE(t.ok());
    CHECK(*t == Approx(BisectIdeal(start, speed, rows)).epsilon(1e-9));
  }
  // One worker starting at 2 with speed 5: 10 rows take until 4.
  CHECK(*IdealCompletionTime({2.0}, {5.0}, 10.0) == Approx(4.0));
  CHECK(IdealCompletionTime({}, {}, 1.0).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(IdealCompletionTime({0.0}, {0.0}, 1.0).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(IdealCompletionTime({0.0}, {1.0}, 0.0).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("edge-bench matmul runs every strategy on a launched cluster of processes", "[matmul][process]") {
  MatmulOptions o;
  o.schemes = {"B"};
  o.quick = true;
  o.repeats = 1;
  o.workers = 3;
  o.time_unit = absl::Milliseconds(1);
  auto r = RunMatmulBench(o);
  REQUIRE(r.ok());
  // 6 Scheme-B points (2 per distribution) x 6 strategies.
  REQUIRE(r->rows.size() == 36);
  for (const MatmulRow& x : r->rows) {
    INFO(x.strategy << " " << x.distribution << " " << x.param);
    CHECK(x.runs == 1);
    CHECK(x.t_median > 0);
    CHECK(x.t_star_median > 0);
    // Nobody beats a perfect balancer by more than timing noise.
    CHECK(x.ratio_median > 0.8);
    CHECK(x.work_median >= 0.99);
  }
}

TEST_CASE("edge-bench matmul refuses bad options with clear errors", "[matmul]") {
  MatmulOptions o;
  o.model = "nonsense";
  CHECK(RunMatmulBench(o).status().code() == absl::StatusCode::kInvalidArgument);
  o = MatmulOptions{};
  o.strategies = {"fountain"};
  auto r = RunMatmulBench(o);
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("unknown strategy 'fountain'") != std::string::npos);
  o = MatmulOptions{};
  o.schemes = {"C"};
  CHECK(RunMatmulBench(o).status().code() == absl::StatusCode::kInvalidArgument);
  o = MatmulOptions{};
  o.workers = 1;
  CHECK(RunMatmulBench(o).status().code() == absl::StatusCode::kInvalidArgument);
  // An LT option the code does not have, before any process starts (it
  // failed after the cluster came up).
  o = MatmulOptions{};
  o.lt_spec = "bogus=1";
  const absl::Time start = absl::Now();
  r = RunMatmulBench(o);
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("has no parameter 'bogus'") != std::string::npos);
  CHECK(absl::Now() - start < absl::Seconds(1));
}

TEST_CASE("The launcher tears its processes down and reports a worker that cannot start", "[matmul][process]") {
  LaunchOptions lo;
  lo.log_dir = "/tmp/codedge-launcher-test";
  std::vector<WorkerLaunch> workers(2);
  workers[1].args = {"--delay=bogus"};  // edge-worker refuses it and exits
  lo.start_timeout = absl::Seconds(10);
  auto c = LocalCluster::Start(lo, workers);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("worker-1 exited at start") != std::string::npos);
  // A good cluster comes up, and Stop leaves no child behind.
  workers[1].args = {};
  auto ok = LocalCluster::Start(lo, workers);
  REQUIRE(ok.ok());
  (*ok)->Stop();
}

}  // namespace
}  // namespace codedge::bench

#include "bench/train_bench.h"
#include "cnn/dataset.h"

namespace codedge::bench {
namespace {

TEST_CASE("edge-bench train runs a coded training step on launched workers", "[train][process]") {
  if (!cnn::LoadMnistDir(cnn::kFashionMnistDir, "test", 1).ok()) {
    WARN("dataset-fashion-mnist is not installed; skipped");
    return;
  }
  TrainBenchOptions o;
  o.strategies = {"uncoded", "mds"};
  o.workers = 2;
  o.batches = 1;
  o.test_limit = 50;
  auto r = RunTrainBench(o);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 6);  // 3 distributions x 2 strategies
  for (const TrainBenchRow& x : *r) {
    CHECK(x.batches == 1);
    CHECK(x.ms_per_batch > 0);
    CHECK(x.product_ms_per_batch > 0);
    CHECK(x.product_ms_per_batch <= x.ms_per_batch);  // a part of the batch
    CHECK(x.test_accuracy >= 0);
    CHECK(x.bound_ms_per_batch > 0);
  }
  // The figure: data and script always, the images where gnuplot exists.
  const std::string dir = "/tmp/codedge-train-plots-test";
  const absl::Status plots = WriteTrainPlots(*r, dir);
  CHECK((plots.ok() || plots.code() == absl::StatusCode::kUnavailable));
  CHECK(std::filesystem::exists(dir + "/train.dat"));
  if (plots.ok()) CHECK(std::filesystem::file_size(dir + "/train.png") > 1000);
  o.strategies = {"nonsense"};
  CHECK(RunTrainBench(o).status().code() == absl::StatusCode::kInvalidArgument);
  o.strategies = {"uncoded"};
  o.cpu_quota = 1.5;
  CHECK(RunTrainBench(o).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge::bench
