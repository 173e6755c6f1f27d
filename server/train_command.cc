#include "server/train_command.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "cnn/dataset.h"
#include "cnn/model.h"
#include "common/logging.h"
#include "common/signals.h"
#include "common/status.h"
#include "server/cluster_engine.h"

namespace codedge {

absl::StatusOr<CodeSpec> TrainingCodeSpec(const std::string& strategy) {
  CodeSpec defaults;
  defaults.lt.symbol_rows = kAutoLtSymbolRows;
  return ParseCodeSpec(strategy, defaults);
}

namespace {

// A bad strategy is refused now, not after the workers connected
// (CheckCodeSpec), training's automatic LT symbol size resolved first.
absl::Status CheckTrainingSpec(const CodeSpec& spec) {
  CodeSpec s = spec;
  if (s.strategy == Strategy::kLt && s.lt.symbol_rows == kAutoLtSymbolRows) s.lt.symbol_rows = AutoLtSymbolRows(1000);
  return CheckCodeSpec(s);
}

// Waits until `c.min_workers` workers are connected, with a note every 10 s;
// DeadlineExceeded after c.wait_for_workers, Cancelled when `stop` says so.
absl::Status WaitForWorkers(EdgeServer& server, const TrainCommand& c, const std::function<bool()>& stop) {
  Log().info("waiting for {} worker(s) on port {}", c.min_workers, server.port());
  const absl::Time deadline = absl::Now() + c.wait_for_workers;
  absl::Time last_note = absl::Now();
  absl::Notification never;
  while (static_cast<int>(server.workers().Workers().size()) < c.min_workers) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("only ", server.workers().Workers().size(), " of ",
                                                      c.min_workers, " workers connected within ",
                                                      absl::FormatDuration(c.wait_for_workers)));
    }
    if (stop()) return absl::CancelledError("stopped while waiting for workers");
    if (const absl::Time now = absl::Now(); now - last_note >= absl::Seconds(10)) {
      last_note = now;
      Log().info("still waiting: {} of {} worker(s) connected (giving up in {:.0f} s)",
                 server.workers().Workers().size(), c.min_workers, absl::ToDoubleSeconds(deadline - now));
    }
    never.WaitForNotificationWithTimeout(absl::Milliseconds(50));
  }
  return absl::OkStatus();
}

// While training runs on the cluster, a product can wait (no worker left:
// each product fails after ClusterEngineOptions::timeout). This thread
// warns every 10 s while no worker is connected, and after a stop request
// (a signal) fails the products in flight if nobody can compute them -- no
// worker for 2 s -- or if the batch has not ended 30 s after the request.
// With workers the batch ends and Train stops before the next one, with a
// checkpoint. It polls the signal itself (TrainOptions::should_stop is
// Train's, asked on its thread). Stops when destroyed.
class TrainingWatchdog {
 public:
  explicit TrainingWatchdog(EdgeServer* server) : server_(server), thread_([this] { Run(); }) {}
  ~TrainingWatchdog() {
    done_.Notify();
    thread_.join();
  }
  TrainingWatchdog(const TrainingWatchdog&) = delete;
  TrainingWatchdog& operator=(const TrainingWatchdog&) = delete;

 private:
  void Run() {
    absl::Time alone_since = absl::InfiniteFuture(), stop_seen = absl::InfiniteFuture(), warned = absl::InfinitePast();
    bool told = false;
    while (!done_.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
      const absl::Time now = absl::Now();
      if (server_->workers().Workers().empty()) {
        alone_since = std::min(alone_since, now);
        if (now - alone_since >= absl::Seconds(10) && now - warned >= absl::Seconds(10)) {
          warned = now;
          Log().warn("no worker connected for {:.0f} s: training waits for one (a product fails after {})",
                     absl::ToDoubleSeconds(now - alone_since), absl::FormatDuration(ClusterEngineOptions{}.timeout));
        }
      } else {
        alone_since = absl::InfiniteFuture();
      }
      if (TerminationRequested() == 0) continue;
      stop_seen = std::min(stop_seen, now);
      const bool stranded = now - alone_since >= absl::Seconds(2);
      if (!stranded && now - stop_seen < absl::Seconds(30)) continue;
      if (!told) {
        told = true;
        Log().warn("stopping: {}; failing the products in flight",
                   stranded ? "no worker is connected" : "the batch has not ended 30 s after the signal");
      }
      // Every tick: a product submitted after the last call fails too.
      (void)server_->pool().FailAll(absl::CancelledError(
          "stopped in the middle of a batch (its products were cancelled); the last checkpoint stays"));
    }
  }

  EdgeServer* const server_;
  absl::Notification done_;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

absl::Status RunTrainCommand(const TrainCommand& c) {
  cnn::TrainOptions options = c.train;
  // A first SIGINT or SIGTERM stops training before the next batch (with a
  // checkpoint, if asked for one); common/signals.h.
  if (!options.should_stop) options.should_stop = [] { return TerminationRequested() != 0; };
  RETURN_IF_ERROR(cnn::CheckTrainOptions(options));
  if (c.train_limit < 0 || c.test_limit < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--train_limit and --test_limit must be >= 0 (0: all), got ",
                                                   c.train_limit, " and ", c.test_limit));
  }
  std::optional<CodeSpec> spec;
  if (!c.local) {
    if (c.min_workers < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--workers must be >= 1 (training waits for them), got ", c.min_workers,
                       "; --local trains without workers"));
    }
    ASSIGN_OR_RETURN(spec, TrainingCodeSpec(c.strategy));
    if (absl::Status s = CheckTrainingSpec(*spec); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--strategy ", c.strategy, ": ", s.message()));
    }
  }
  const bool cifar = c.data.rfind("cifar10:", 0) == 0;
  const std::string dir = c.data == "fashion-mnist" ? std::string(cnn::kFashionMnistDir)
                          : cifar                  ? c.data.substr(8)
                                                   : c.data;
  absl::StatusOr<cnn::Dataset> train, test;
  if (cifar) {  // the CIFAR-10 binary version: data_batch_1..5.bin, test_batch.bin
    std::vector<std::string> files;
    for (int i = 1; i <= 5; ++i) files.push_back(absl::StrCat(dir, "/data_batch_", i, ".bin"));
    train = cnn::LoadCifar10(files, c.train_limit);
    test = cnn::LoadCifar10({dir + "/test_batch.bin"}, c.test_limit);
  } else {
    train = cnn::LoadMnistDir(dir, "train", c.train_limit);
    test = cnn::LoadMnistDir(dir, "test", c.test_limit);
  }
  if (!train.ok()) {
    if (c.data == "fashion-mnist" && train.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat(train.status().message(),
                                              " (install it with: apt-get install dataset-fashion-mnist)"));
    }
    return train.status();
  }
  if (!test.ok()) return test.status();
  ASSIGN_OR_RETURN(cnn::Model model, cnn::Model::Create(c.model, c.model_seed));
  Log().info("data: {} training and {} test images of {}x{}x{} from {}", train->size(), test->size(), train->h,
             train->w, train->c, dir);
  // A checkpoint that cannot continue this run is refused now, not after
  // the workers came.
  RETURN_IF_ERROR(cnn::CheckResumable(model, train->size(), options));

  std::unique_ptr<EdgeServer> server;
  std::unique_ptr<cnn::MatmulEngine> engine;
  if (c.local) {
    engine = std::make_unique<cnn::LocalEngine>();
    Log().info("training {} locally (no cluster)", c.model);
  } else {
    ASSIGN_OR_RETURN(server, EdgeServer::Start(c.server));
    RETURN_IF_ERROR(WaitForWorkers(*server, c, options.should_stop));
    engine = std::make_unique<ClusterEngine>(&server->pool(), ClusterEngineOptions{*spec, *spec, *spec});
    Log().info("training {} on {} worker(s), every product {}", c.model, server->workers().Workers().size(),
               CodeSpecString(*spec));
  }
  std::optional<TrainingWatchdog> watchdog;
  if (server) watchdog.emplace(server.get());
  absl::StatusOr<cnn::TrainReport> report = cnn::Train(model, *train, *test, *engine, options);
  watchdog.reset();
  if (!report.ok()) {
    if (server) server->Shutdown();
    return report.status();
  }
  const cnn::TrainReport& r = *report;
  Log().info("done: {} batches in {:.1f} s ({:.1f} ms/batch), last loss {:.4f}, test accuracy {:.2f}%", r.batches,
             r.seconds, r.ms_per_batch, r.last_loss, 100.0 * r.test_accuracy);
  if (!c.train.weights_path.empty()) Log().info("weights saved to {}", c.train.weights_path);
  if (server) server->Shutdown();
  return absl::OkStatus();
}

}  // namespace codedge
