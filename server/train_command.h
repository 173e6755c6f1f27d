// `edge-server train`: trains a CNN whose products run on this server's
// workers (or locally with --local), wired from a config struct.
#ifndef CODEDGE_SERVER_TRAIN_COMMAND_H_
#define CODEDGE_SERVER_TRAIN_COMMAND_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cnn/trainer.h"
#include "codes/factory.h"
#include "server/cluster_engine.h"
#include "server/edge_server.h"

namespace codedge {

struct TrainCommand {
  std::string model = "vgg-mini";
  std::string data = "fashion-mnist";  // or a directory of MNIST-format idx files
  int64_t train_limit = 0, test_limit = 0;  // 0: all examples
  std::string strategy = "mds";        // for every product kind
  bool local = false;                  // products on this machine, no cluster
  int min_workers = 1;                 // wait for this many workers before training
  absl::Duration wait_for_workers = absl::Minutes(2);
  uint64_t model_seed = 1;
  cnn::TrainOptions train;
  EdgeServerOptions server;
};

// Runs the whole command; prints progress lines and a final summary.
absl::Status RunTrainCommand(const TrainCommand& command);

// The code of every product in training, from --strategy. LT without an
// explicit symbol_rows gets kAutoLtSymbolRows: rows per symbol chosen per
// product by the ClusterEngine (server/cluster_engine.h, 1-64 rows, ~100
// symbols); "lt:symbol_rows=64" fixes them, "lt:symbol_rows=1" asks for row
// granularity.
absl::StatusOr<CodeSpec> TrainingCodeSpec(const std::string& strategy);

}  // namespace codedge

#endif  // CODEDGE_SERVER_TRAIN_COMMAND_H_
