#include "server/train_command.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "cnn/dataset.h"
#include "cnn/model.h"
#include "common/logging.h"
#include "common/status.h"
#include "server/cluster_engine.h"

namespace codedge {

absl::StatusOr<CodeSpec> TrainingCodeSpec(const std::string& strategy) {
  CodeSpec defaults;
  defaults.lt.symbol_rows = kAutoLtSymbolRows;
  return ParseCodeSpec(strategy, defaults);
}

absl::Status RunTrainCommand(const TrainCommand& c) {
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

  std::unique_ptr<EdgeServer> server;
  std::unique_ptr<cnn::MatmulEngine> engine;
  if (c.local) {
    engine = std::make_unique<cnn::LocalEngine>();
    Log().info("training {} locally (no cluster)", c.model);
  } else {
    ASSIGN_OR_RETURN(CodeSpec spec, TrainingCodeSpec(c.strategy));
    ASSIGN_OR_RETURN(server, EdgeServer::Start(c.server));
    Log().info("waiting for {} worker(s) on port {}", c.min_workers, server->port());
    const absl::Time deadline = absl::Now() + c.wait_for_workers;
    absl::Notification never;
    while (static_cast<int>(server->workers().Workers().size()) < c.min_workers) {
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("only ", server->workers().Workers().size(), " of ",
                                                        c.min_workers, " workers connected within ",
                                                        absl::FormatDuration(c.wait_for_workers)));
      }
      never.WaitForNotificationWithTimeout(absl::Milliseconds(50));
    }
    engine = std::make_unique<ClusterEngine>(&server->pool(), ClusterEngineOptions{spec, spec, spec});
    Log().info("training {} on {} worker(s), every product {}", c.model, server->workers().Workers().size(),
               CodeSpecString(spec));
  }
  ASSIGN_OR_RETURN(cnn::TrainReport r, cnn::Train(model, *train, *test, *engine, c.train));
  Log().info("done: {} batches in {:.1f} s ({:.1f} ms/batch), last loss {:.4f}, test accuracy {:.2f}%", r.batches,
             r.seconds, r.ms_per_batch, r.last_loss, 100.0 * r.test_accuracy);
  if (!c.train.weights_path.empty()) Log().info("weights saved to {}", c.train.weights_path);
  if (server) server->Shutdown();
  return absl::OkStatus();
}

}  // namespace codedge
