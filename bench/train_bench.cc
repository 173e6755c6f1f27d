#include "bench/train_bench.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/json.h"
#include "bench/launcher.h"
#include "bench/matmul_bench.h"
#include "bench/stats.h"
#include "bench/scenario.h"
#include "cnn/dataset.h"
#include "cnn/kernels.h"
#include "cnn/model.h"
#include "cnn/trainer.h"
#include "common/logging.h"
#include "common/matrix_util.h"
#include "common/random.h"
#include "common/status.h"
#include "server/cluster_engine.h"
#include "server/edge_server.h"
#include "server/train_command.h"

namespace codedge::bench {
namespace {

// LT as training uses it: rows per symbol chosen per product
// (server/cluster_engine.h) unless a strategy name sets symbol_rows.
absl::StatusOr<CodeSpec> BenchSpec(const std::string& name, int workers) {
  ASSIGN_OR_RETURN(const std::string text, StrategySpec(name, workers));
  return TrainingCodeSpec(text);
}

// Passes every product to `inner`, noting its shape (M, K, N) and adding up
// the wall time spent in products.
class RecordingEngine final : public cnn::MatmulEngine {
 public:
  explicit RecordingEngine(cnn::MatmulEngine* inner) : inner_(inner) {}
  absl::StatusOr<Matrix> Multiply(ConstMatrixRef a, ConstMatrixRef b, cnn::ProductKind kind) override {
    return Record({a.rows(), a.cols(), b.cols()}, [&] { return inner_->Multiply(a, b, kind); });
  }
  // A convolution's products are recorded as the plain products they
  // stand for (the same multiply-adds), and passed on as they are.
  absl::StatusOr<Matrix> MultiplyIm2col(ConstMatrixRef x, const ConvGeometry& g, ConstMatrixRef w) override {
    return Record({g.n * g.out_h() * g.out_w(), g.patch(), w.cols()}, [&] { return inner_->MultiplyIm2col(x, g, w); });
  }
  absl::StatusOr<Matrix> MultiplyCol2im(ConstMatrixRef dz, ConstMatrixRef wt, const ConvGeometry& g) override {
    return Record({dz.rows(), dz.cols(), wt.cols()}, [&] { return inner_->MultiplyCol2im(dz, wt, g); });
  }
  absl::StatusOr<Matrix> MultiplyIm2colTransposed(ConstMatrixRef x, const ConvGeometry& g,
                                                  ConstMatrixRef dz) override {
    return Record({g.patch(), dz.rows(), dz.cols()}, [&] { return inner_->MultiplyIm2colTransposed(x, g, dz); });
  }
  const std::vector<std::array<int64_t, 3>>& shapes() const { return shapes_; }
  // The wall time of the first n products (training's, before the final
  // evaluation's forward passes).
  double SecondsOfFirst(size_t n) const {
    double sum = 0;
    for (size_t i = 0; i < std::min(n, seconds_.size()); ++i) sum += seconds_[i];
    return sum;
  }
  // The mean time of product i of each of `batches` steps of `per_batch`
  // products.
  double MeanSecondsOf(size_t i, size_t per_batch, int64_t batches) const {
    double sum = 0;
    int64_t count = 0;
    for (size_t at = i; at < seconds_.size() && count < batches; at += per_batch, ++count) sum += seconds_[at];
    return count > 0 ? sum / static_cast<double>(count) : 0.0;
  }

 private:
  template <typename Product>
  absl::StatusOr<Matrix> Record(std::array<int64_t, 3> shape, Product product) {
    shapes_.push_back(shape);
    const auto start = SteadyClock::now();
    absl::StatusOr<Matrix> c = product();
    seconds_.push_back(SecondsSince(start));
    return c;
  }

  cnn::MatmulEngine* inner_;
  std::vector<std::array<int64_t, 3>> shapes_;
  std::vector<double> seconds_;
};

// This machine's single-thread time for each of one step's products
// (M, K, N), median of 7 (of 3, the batch's bound moved by up to 30 %
// between runs on this shared machine).
std::vector<double> LocalSeconds(const std::vector<std::array<int64_t, 3>>& shapes, uint64_t seed) {
  Pcg32 rng(seed, 0x626e64);  // "bnd"
  std::vector<double> out;
  for (const auto& [m, k, n] : shapes) {
    const Matrix a = RandomUniformMatrix(m, k, rng), b = RandomUniformMatrix(k, n, rng);
    Matrix c(m, n);
    out.push_back(MedianSeconds(7, [&] { c.noalias() = a * b; }));
  }
  return out;
}

// T* of each of one batch's products (their sum: see
// TrainBenchRow::bound_ms_per_batch).
absl::StatusOr<std::vector<double>> ProductBoundSeconds(const std::vector<std::array<int64_t, 3>>& shapes,
                                                        const std::vector<double>& local_seconds,
                                                        const std::vector<double>& starts, double core_fraction,
                                                        int64_t min_remote_macs) {
  std::vector<double> bounds;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto& [m, k, n] = shapes[i];
    if (m * k * n < min_remote_macs) {
      bounds.push_back(local_seconds[i]);
      continue;
    }
    const std::vector<double> speeds(starts.size(),
                                     core_fraction * static_cast<double>(m) / std::max(local_seconds[i], 1e-9));
    ASSIGN_OR_RETURN(double t_star, IdealCompletionTime(starts, speeds, static_cast<double>(m)));
    bounds.push_back(t_star);
  }
  return bounds;
}

}  // namespace

absl::StatusOr<std::vector<TrainBenchRow>> RunTrainBench(const TrainBenchOptions& o) {
  if (o.workers < 1 || o.batches < 1 || o.test_limit < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--workers and --batches must be >= 1, got ", o.workers, " and ",
                                                   o.batches, o.test_limit < 1 ? " (and the test set must not be empty)" : ""));
  }
  if (!(o.cpu_quota >= 0 && o.cpu_quota <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("--cpu_quota must be in [0, 1] (a fraction of one core), got ",
                                                   o.cpu_quota));
  }
  for (const std::string& s : o.strategies) {  // every name checked before any worker starts
    RETURN_IF_ERROR(BenchSpec(s, o.workers).status());
  }
  ASSIGN_OR_RETURN(cnn::Dataset train, cnn::LoadMnistDir(o.data, "train", o.batches * 50));
  ASSIGN_OR_RETURN(cnn::Dataset test, cnn::LoadMnistDir(o.data, "test", o.test_limit));
  const double unit = absl::ToDoubleSeconds(o.time_unit);
  // The products of one training step, as the cluster gets them (whole
  // batches): one forward and backward through a recording local engine.
  std::vector<std::array<int64_t, 3>> batch_shapes;
  {
    ASSIGN_OR_RETURN(cnn::Model model, cnn::Model::Create("vgg-mini", o.seed));
    cnn::LocalEngine whole(/*preferred_rows=*/0);
    RecordingEngine rec(&whole);
    const Matrix images = train.images.topRows(50);
    const std::vector<int32_t> labels(train.labels.begin(), train.labels.begin() + 50);
    ASSIGN_OR_RETURN(Matrix logits, model.Forward(images, rec));
    Matrix d;
    int64_t correct = 0;
    (void)cnn::SoftmaxCrossEntropy(logits, labels, &d, &correct);
    RETURN_IF_ERROR(model.Backward(d, rec));
    batch_shapes = rec.shapes();
  }
  const std::vector<double> local_seconds = LocalSeconds(batch_shapes, o.seed);
  // Without cgroups the launcher emulates the quota with --slowdown: the
  // workers run at that fraction either way.
  const double fraction = o.cpu_quota > 0 ? o.cpu_quota : 1.0;
  const int64_t min_remote_macs = ClusterEngineOptions{}.min_remote_macs;
  std::vector<TrainBenchRow> rows;
  const Latency latencies[] = {Latency{"uniform", 1, 50}, Latency{"normal", 20, 16}, Latency{"exponential", 16, 0}};
  for (size_t set = 0; set < std::size(latencies); ++set) {
    const Latency& d = latencies[set];
    EdgeServerOptions so;
    so.address = "127.0.0.1:0";
    ASSIGN_OR_RETURN(std::unique_ptr<EdgeServer> server, EdgeServer::Start(so));
    // One latency set per distribution, the same whichever strategies run
    // (it was seeded by the rows so far, so adding a strategy changed them).
    Pcg32 rng(MixSeed(o.seed, set), 0x747261);  // "tra"
    std::vector<WorkerLaunch> launch(o.workers);
    std::vector<double> starts;  // t_i, seconds
    for (auto& w : launch) {
      starts.push_back(d.Draw(rng) * unit);
      w.args = {"--threads=1", "--log_level=warn", absl::StrCat("--delay=const:", starts.back()), "--delay_scope=job"};
      w.cpu_quota = o.cpu_quota;
      w.cpu_period = absl::Milliseconds(10);  // a training product takes milliseconds
    }
    LaunchOptions lo;
    lo.server_address = absl::StrCat("127.0.0.1:", server->port());
    lo.log_dir = absl::StrCat("/tmp/codedge-bench-", getpid());
    ASSIGN_OR_RETURN(std::unique_ptr<LocalCluster> cluster, LocalCluster::Start(lo, launch));
    ASSIGN_OR_RETURN(const std::vector<double> bounds,
                     ProductBoundSeconds(batch_shapes, local_seconds, starts, fraction, min_remote_macs));
    const double bound_s = std::accumulate(bounds.begin(), bounds.end(), 0.0);
    for (const std::string& name : o.strategies) {
      ASSIGN_OR_RETURN(CodeSpec spec, BenchSpec(name, o.workers));
      ASSIGN_OR_RETURN(cnn::Model model, cnn::Model::Create("vgg-mini", o.seed));
      ClusterEngineOptions eo{spec, spec, spec};
      eo.min_remote_macs = min_remote_macs;
      ClusterEngine cluster_engine(&server->pool(), eo);
      RecordingEngine engine(&cluster_engine);
      cnn::TrainOptions t;
      t.batch = 50;
      t.max_batches = o.batches;
      t.seed = o.seed;
      t.progress_seconds = 1e9;
      // Training through the cluster; evaluation locally on the whole test
      // set (the weights are what is measured): Train's own evaluation gets
      // one image.
      cnn::Dataset one = test;
      one.images = test.images.topRows(1);
      one.labels.resize(1);
      auto report = cnn::Train(model, train, one, engine, t);
      if (!report.ok()) return report.status();
      cnn::LocalEngine local;
      ASSIGN_OR_RETURN(double acc, cnn::Evaluate(model, test, local));
      TrainBenchRow row{d.dist, name, report->ms_per_batch, acc};
      // Every step makes the same products (batch_shapes); Train's final
      // evaluation makes more, after them.
      row.product_ms_per_batch = 1e3 * engine.SecondsOfFirst(batch_shapes.size() * report->batches) /
                                 static_cast<double>(std::max<int64_t>(1, report->batches));
      row.batches = report->batches;
      row.bound_ms_per_batch = 1e3 * bound_s;
      rows.push_back(row);
      // Where the batch's time goes, product by product (mean over the
      // batches), against each product's bound.
      for (size_t i = 0; i < batch_shapes.size(); ++i) {
        const auto& [m, k, n] = batch_shapes[i];
        Log().debug("train bench: {} latencies, {}: product {} ({}x{} . {}x{}) {:.1f} ms, bound {:.1f} ms", d.dist,
                    name, i + 1, m, k, k, n, 1e3 * engine.MeanSecondsOf(i, batch_shapes.size(), report->batches),
                    1e3 * bounds[i]);
      }
      const JobStats& js = cluster_engine.remote_stats();
      const double products = static_cast<double>(std::max<int64_t>(1, cluster_engine.remote_products()));
      const double ms = 1e3 / products;  // seconds summed -> ms per product
      Log().info("train bench: {} latencies, {}: per remote product {:.1f} ms submit to done, of which {:.1f} ms "
                 "queued, encode {:.1f} ms, decode {:.1f} ms; {:.1f} tasks sent, {:.1f} cancelled, {:.1f} wasted",
                 d.dist, name, ms * js.total_seconds, ms * js.queue_seconds, ms * js.encode_seconds,
                 ms * js.decode_seconds, js.tasks_sent / products, js.tasks_cancelled / products,
                 js.tasks_wasted / products);
      Log().info("train bench: {} latencies, {}: {:.0f} ms/batch, {:.0f} of them in products ({:.2f}x the bound "
                 "{:.0f} ms), test accuracy {:.1f}% after {} batches",
                 d.dist, name, row.ms_per_batch, row.product_ms_per_batch, row.product_ms_per_batch / row.bound_ms_per_batch,
                 row.bound_ms_per_batch, 100 * acc, report->batches);
    }
    cluster->Stop();
    server->Shutdown();
  }
  return rows;
}

void PrintTrainTable(const std::vector<TrainBenchRow>& rows, std::ostream& out) {
  out << absl::StrFormat("%-12s %-15s %12s %12s %12s %9s %14s %8s\n", "latency", "strategy", "ms/batch",
                         "products ms", "bound ms", "x bound", "test accuracy", "batches");
  for (const TrainBenchRow& r : rows) {
    out << absl::StrFormat("%-12s %-15s %12.1f %12.1f %12.1f %9.2f %13.1f%% %8d\n", r.distribution, r.strategy,
                           r.ms_per_batch, r.product_ms_per_batch, r.bound_ms_per_batch,
                           r.product_ms_per_batch / r.bound_ms_per_batch, 100 * r.test_accuracy, r.batches);
  }
  out << "products ms: the part of a batch spent waiting for its products; bound: the fluid load balancer's T*\n"
         "per product over the workers' latencies, every worker at this machine's single-thread rate (times\n"
         "--cpu_quota) for the product's shape, summed over a batch's products; x bound = products / bound\n";
}

std::string TrainJson(const std::vector<TrainBenchRow>& rows) {
  JsonWriter w;
  w.BeginObject().Key("results").BeginArray();
  for (const TrainBenchRow& r : rows) {
    w.BeginObject()
        .Key("distribution").String(r.distribution)
        .Key("strategy").String(r.strategy)
        .Key("ms_per_batch").Number(r.ms_per_batch)
        .Key("product_ms_per_batch").Number(r.product_ms_per_batch)
        .Key("test_accuracy").Number(r.test_accuracy)
        .Key("batches").Int(r.batches)
        .Key("bound_ms_per_batch").Number(r.bound_ms_per_batch)
        .EndObject();
  }
  w.EndArray().EndObject();
  return w.str() + "\n";
}

std::string TrainCsv(const std::vector<TrainBenchRow>& rows) {
  std::string out = "distribution,strategy,ms_per_batch,test_accuracy,batches,product_ms_per_batch,bound_ms_per_batch\n";
  for (const TrainBenchRow& r : rows) {
    const std::string strategy = r.strategy.find(',') == std::string::npos ? r.strategy : absl::StrCat("\"", r.strategy, "\"");
    absl::StrAppend(&out, r.distribution, ",", strategy, ",", absl::StrFormat("%.3f,%.4f,", r.ms_per_batch, r.test_accuracy),
                    r.batches, absl::StrFormat(",%.3f,%.3f", r.product_ms_per_batch, r.bound_ms_per_batch), "\n");
  }
  return out;
}

absl::Status WriteTrainPlots(const std::vector<TrainBenchRow>& rows, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  std::vector<std::string> strategies, dists;
  for (const TrainBenchRow& r : rows) {
    if (std::find(strategies.begin(), strategies.end(), r.strategy) == strategies.end()) strategies.push_back(r.strategy);
    if (std::find(dists.begin(), dists.end(), r.distribution) == dists.end()) dists.push_back(r.distribution);
  }
  {
    std::ofstream dat(dir + "/train.dat");
    dat << "latency";
    for (const std::string& s : strategies) dat << " " << s;
    dat << "\n";
    for (const std::string& d : dists) {
      dat << d;
      for (const std::string& s : strategies) {
        double v = NAN;
        for (const TrainBenchRow& r : rows)
          if (r.distribution == d && r.strategy == s) v = r.ms_per_batch;
        dat << " " << v;
      }
      dat << "\n";
    }
    std::ofstream gp(dir + "/train.gp");
    for (const char* term : {"pngcairo size 900,450", "svg size 900,450"}) {
      const bool png = std::string(term).rfind("png", 0) == 0;
      gp << "set terminal " << term << "\nset output 'train" << (png ? ".png" : ".svg") << "'\n"
         << "set title 'vgg-mini, batch 50: time per batch'\nset ylabel 'ms per batch'\nset style data histogram\n"
         << "set style histogram cluster gap 1\nset style fill solid 0.8\nset key top left\nset grid ytics\nset yrange [0:*]\n"
         << "plot 'train.dat' using 2:xtic(1) title columnheader(2)";
      for (size_t i = 1; i < strategies.size(); ++i) gp << ", '' using " << i + 2 << " title columnheader(" << i + 2 << ")";
      gp << "\n";
    }
  }
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    return absl::UnavailableError(absl::StrCat("gnuplot is not installed; data and script are in ", dir));
  }
  if (std::system(absl::StrCat("cd '", dir, "' && gnuplot train.gp 2> gnuplot.log").c_str()) != 0) {
    return absl::InternalError(absl::StrCat("gnuplot failed; see ", dir, "/gnuplot.log"));
  }
  return absl::OkStatus();
}

}  // namespace codedge::bench
