// Mini-batch SGD training of a Model over any MatmulEngine, with progress
// lines, evaluation, checkpoints and resume.
//
// Checkpoint / weights file format (little-endian), documented for users:
//   "CODEDGE1"                     8 bytes magic
//   u32 kind                       1 = weights only, 2 = checkpoint,
//                                  3 = checkpoint with its run's shape
//   u64 epoch, u64 next_batch      position (checkpoint; 0 for weights)
//   u64 seed                       the training seed (the shuffle order)
//   [kind 3 only] u64 batch, u64 total_batches, u32 lr_schedule
//                 (0 constant, 1 linear, 2 cosine), f64 learning_rate
//   u32 params                     then per parameter:
//     u32 name_len, name bytes, u64 rows, u64 cols,
//     rows*cols float32 values (row-major),
//     [checkpoint only] rows*cols float32 momentum velocities
// Train writes kind 3; LoadModel reads all three (kinds 1 and 2: the run's
// shape unknown, so a resume from them is not checked against it).
// A checkpoint is written to PATH.tmp and renamed, so a crash never leaves
// a half-written file.
//
// Encrypted (TrainOptions::key, edge-server train --key_file): the file is
//   "CODEDGEX" 8 bytes magic, u32 version = 1    (authenticated, in clear)
//   12-byte nonce | AES-256-GCM ciphertext of the layout above | 16-byte tag
// (common/crypto.h). Loading it needs the key; a wrong key or a changed
// byte is refused (DataLoss), never half-loaded.
#ifndef CODEDGE_CNN_TRAINER_H_
#define CODEDGE_CNN_TRAINER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cnn/dataset.h"
#include "cnn/engine.h"
#include "cnn/model.h"
#include "common/crypto.h"

namespace codedge::cnn {

// The example order of `epoch`: a Fisher-Yates shuffle of [0, n) from
// (seed, epoch), so a resumed run sees exactly the batches it would have seen.
std::vector<int64_t> TrainingOrder(int64_t n, uint64_t seed, uint64_t epoch);

// How the learning rate moves over a run of `total` batches: kept (constant),
// or decayed to zero at the end, in a straight line (linear) or along half a
// cosine. A decayed rate ends the run on a less noisy iterate (BENCHMARKS.md).
enum class LrSchedule { kConstant, kLinear, kCosine };
absl::StatusOr<LrSchedule> ParseLrSchedule(const std::string& name);
const char* LrScheduleName(LrSchedule s);
// The rate of batch `step` (0-based, counted over the whole run, across
// epochs and resumes) of `total`.
double ScheduledLearningRate(double base, LrSchedule s, int64_t step, int64_t total);

struct TrainOptions {
  int64_t batch = 50;
  int epochs = 1;
  int64_t max_batches = 0;        // stop after this many batches in all (0: every epoch to the end)
  SgdOptions sgd;
  LrSchedule lr_schedule = LrSchedule::kLinear;
  uint64_t seed = 1;              // shuffling
  std::string checkpoint_path;    // empty: no checkpoints
  int64_t checkpoint_every = 100; // batches
  bool resume = false;            // continue from checkpoint_path if it exists
  std::string weights_path;       // empty: not saved
  std::optional<AeadKey> key;     // set: checkpoints and weights are written (and read) encrypted
  double progress_seconds = 2.0;  // a progress line at most this often
  // Data parallel: each batch is split over this many model replicas, one
  // thread each (the gradients are combined, so the step is the full
  // batch's up to float rounding). For an engine that may be called from
  // several threads at once (LocalEngine); 1: no split.
  int threads = 1;
  // Asked before every batch: true stops the run there (a checkpoint of the
  // position reached is written first, if checkpoint_path is set) and Train
  // returns Cancelled. Null: never.
  std::function<bool()> should_stop;
};

// The checks Train makes before it starts, for a caller that wants them
// before it spends minutes on something else (waiting for workers):
// InvalidArgument for sizes out of range, a non-finite or negative learning
// rate or weight decay, momentum outside [0, 1), --resume without a
// checkpoint path, and a checkpoint or weights path that cannot be written
// (found now, not after the run).
absl::Status CheckTrainOptions(const TrainOptions& options);

struct TrainReport {
  int64_t batches = 0;            // trained in this run
  double last_loss = 0, train_accuracy = 0;  // over the last progress window
  double test_accuracy = 0;
  double ms_per_batch = 0;
  double seconds = 0;
};

// Trains `model` on `train`, evaluates on `test`. InvalidArgument for bad
// options or data that do not fit the model; engine errors are returned as
// they are (the last checkpoint stays usable).
absl::StatusOr<TrainReport> Train(Model& model, const Dataset& train, const Dataset& test, MatmulEngine& engine,
                                  const TrainOptions& options);
// What Train would refuse in `options`' checkpoint before its first batch
// (not a weights file, another model, seed or run shape), checked on a copy
// of `model`: a server calls it before it waits for workers. OK when there
// is nothing to resume.
absl::Status CheckResumable(const Model& model, int64_t train_size, const TrainOptions& options);

// The gradients of the mean loss over the batch (`images`, `labels`) into
// every Param::grad of `model`, the batch cut into 1 + replicas.size() parts
// of (almost) equal size: part 0 on `model` on this thread, part r on
// replicas[r - 1] (clones of `model`, whose parameter values are refreshed
// from it first) on its own thread; then grad = sum_r (n_r / N) grad_r.
// Returns the mean loss; adds the correct predictions to *correct.
absl::StatusOr<double> BatchGradients(Model& model, std::vector<Model>& replicas, const Matrix& images,
                                      const std::vector<int32_t>& labels, MatmulEngine& engine, int64_t* correct);

// Accuracy of `model` on `data` (batches of 500, forward only).
absl::StatusOr<double> Evaluate(Model& model, const Dataset& data, MatmulEngine& engine);

// What a resume must match to continue the same run: the batch size (the
// position counts batches of it) and, for a decaying schedule, the rates
// (schedule, run length, base rate).
struct RunShape {
  int64_t batch = 0, total_batches = 0;
  LrSchedule lr_schedule = LrSchedule::kConstant;
  double learning_rate = 0;
};
struct Position {
  uint64_t epoch = 0, next_batch = 0, seed = 0;
  std::optional<RunShape> run;  // checkpoints written by Train (kind 3)
};
// `key`: encrypt (see the format above); null: plain.
absl::Status SaveModel(Model& model, const std::string& path, bool checkpoint, const Position& pos,
                       const AeadKey* key = nullptr);
// Loads values (and velocities of a checkpoint) into `model`; the names and
// shapes must match. Returns the saved position. An encrypted file needs
// `key` (FailedPrecondition without one; DataLoss for a wrong key or a
// changed file); a plain file loads with or without a key.
absl::StatusOr<Position> LoadModel(Model& model, const std::string& path, const AeadKey* key = nullptr);

}  // namespace codedge::cnn

#endif  // CODEDGE_CNN_TRAINER_H_
