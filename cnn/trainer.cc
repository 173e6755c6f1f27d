#include "cnn/trainer.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>
#include <numeric>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/random.h"
#include "common/status.h"

namespace codedge::cnn {
namespace {

constexpr char kMagic[8] = {'C', 'O', 'D', 'E', 'D', 'G', 'E', '1'};
constexpr char kSealedMagic[8] = {'C', 'O', 'D', 'E', 'D', 'G', 'E', 'X'};

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

template <typename T>
void Put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(v));
}

template <typename T>
bool Get(const std::string& in, size_t& at, T* v) {
  if (at + sizeof(T) > in.size()) return false;
  std::memcpy(v, in.data() + at, sizeof(T));
  at += sizeof(T);
  return true;
}

}  // namespace

absl::Status SaveModel(Model& model, const std::string& path, bool checkpoint, const Position& pos,
                       const AeadKey* key) {
  std::string out(kMagic, 8);
  const bool with_run = checkpoint && pos.run.has_value();
  Put<uint32_t>(out, with_run ? 3 : checkpoint ? 2 : 1);
  Put<uint64_t>(out, pos.epoch);
  Put<uint64_t>(out, pos.next_batch);
  Put<uint64_t>(out, pos.seed);
  if (with_run) {
    Put<uint64_t>(out, static_cast<uint64_t>(pos.run->batch));
    Put<uint64_t>(out, static_cast<uint64_t>(pos.run->total_batches));
    Put<uint32_t>(out, static_cast<uint32_t>(pos.run->lr_schedule));
    Put<double>(out, pos.run->learning_rate);
  }
  const auto params = model.params();
  Put<uint32_t>(out, static_cast<uint32_t>(params.size()));
  for (Param* p : params) {
    Put<uint32_t>(out, static_cast<uint32_t>(p->name.size()));
    out += p->name;
    Put<uint64_t>(out, static_cast<uint64_t>(p->value.rows()));
    Put<uint64_t>(out, static_cast<uint64_t>(p->value.cols()));
    out.append(reinterpret_cast<const char*>(p->value.data()), p->value.size() * sizeof(float));
    if (checkpoint) out.append(reinterpret_cast<const char*>(p->velocity.data()), p->velocity.size() * sizeof(float));
  }
  if (key != nullptr) {
    std::string header(kSealedMagic, 8);
    Put<uint32_t>(header, 1);
    ASSIGN_OR_RETURN(std::string sealed, Seal(*key, out, header));
    out = header + sealed;
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    f.flush();
    if (!f) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<Position> LoadModel(Model& model, const std::string& path, const AeadKey* key) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string in((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto bad = [&](const std::string& why) { return absl::DataLossError(absl::StrCat(path, ": ", why)); };
  if (in.size() >= 8 && std::memcmp(in.data(), kSealedMagic, 8) == 0) {
    if (key == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(path, ": encrypted; give its key (--key_file)"));
    }
    uint32_t version = 0;
    size_t at = 8;
    if (!Get(in, at, &version) || version != 1) return bad("unknown encrypted-file version");
    absl::StatusOr<std::string> plain = Open(*key, absl::string_view(in).substr(12), absl::string_view(in).substr(0, 12));
    if (!plain.ok()) return bad(std::string(plain.status().message()));
    in = *std::move(plain);
  }
  if (in.size() < 8 || std::memcmp(in.data(), kMagic, 8) != 0) return bad("not a codedge weights file");
  size_t at = 8;
  uint32_t kind = 0, count = 0;
  Position pos;
  if (!Get(in, at, &kind) || kind < 1 || kind > 3 || !Get(in, at, &pos.epoch) || !Get(in, at, &pos.next_batch) ||
      !Get(in, at, &pos.seed)) {
    return bad("truncated header");
  }
  if (kind == 3) {
    uint64_t batch = 0, total = 0;
    uint32_t schedule = 0;
    double rate = 0;
    if (!Get(in, at, &batch) || !Get(in, at, &total) || !Get(in, at, &schedule) || !Get(in, at, &rate)) {
      return bad("truncated header");
    }
    if (schedule > static_cast<uint32_t>(LrSchedule::kCosine)) return bad("unknown learning-rate schedule");
    pos.run = RunShape{static_cast<int64_t>(batch), static_cast<int64_t>(total), static_cast<LrSchedule>(schedule), rate};
  }
  if (!Get(in, at, &count)) return bad("truncated header");
  const bool checkpoint = kind != 1;
  const auto params = model.params();
  if (count != params.size()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", count, " parameters, the model has ", params.size()));
  }
  for (Param* p : params) {
    uint32_t len = 0;
    uint64_t rows = 0, cols = 0;
    if (!Get(in, at, &len) || at + len > in.size()) return bad("truncated");
    const std::string name = in.substr(at, len);
    at += len;
    if (!Get(in, at, &rows) || !Get(in, at, &cols)) return bad("truncated");
    if (name != p->name || static_cast<int64_t>(rows) != p->value.rows() || static_cast<int64_t>(cols) != p->value.cols()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": parameter ", name, " ", rows, "x", cols,
                                                     " does not match the model's ", p->name, " ", p->value.rows(),
                                                     "x", p->value.cols()));
    }
    const size_t bytes = rows * cols * sizeof(float);
    if (at + bytes * (checkpoint ? 2 : 1) > in.size()) return bad("truncated values");
    std::memcpy(p->value.data(), in.data() + at, bytes);
    at += bytes;
    if (checkpoint) {
      std::memcpy(p->velocity.data(), in.data() + at, bytes);
      at += bytes;
    }
  }
  if (at != in.size()) return bad("trailing bytes");
  return pos;
}

absl::StatusOr<double> BatchGradients(Model& model, std::vector<Model>& replicas, const Matrix& images,
                                      const std::vector<int32_t>& labels, MatmulEngine& engine, int64_t* correct) {
  const int64_t n = images.rows();
  if (n < 1 || static_cast<int64_t>(labels.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat(n, " images and ", labels.size(), " labels"));
  }
  const int64_t parts = std::min<int64_t>(n, 1 + static_cast<int64_t>(replicas.size()));
  struct Part {
    double loss = 0;
    int64_t correct = 0, rows = 0;
    absl::Status status;
  };
  std::vector<Part> out(static_cast<size_t>(parts));
  auto run = [&](Model& m, int64_t r) {
    const int64_t lo = r * n / parts, hi = (r + 1) * n / parts;
    Part& p = out[static_cast<size_t>(r)];
    p.rows = hi - lo;
    const Matrix x = images.middleRows(lo, hi - lo);
    const std::vector<int32_t> lab(labels.begin() + lo, labels.begin() + hi);
    absl::StatusOr<Matrix> logits = m.Forward(x, engine);
    if (!logits.ok()) {
      p.status = logits.status();
      return;
    }
    Matrix d;
    p.loss = SoftmaxCrossEntropy(*logits, lab, &d, &p.correct);
    p.status = m.Backward(d, engine);
  };
  const std::vector<Param*> master = model.params();
  std::vector<std::thread> threads;
  for (int64_t r = 1; r < parts; ++r) {
    Model& replica = replicas[static_cast<size_t>(r - 1)];
    const std::vector<Param*> rp = replica.params();
    for (size_t i = 0; i < master.size(); ++i) rp[i]->value = master[i]->value;
    threads.emplace_back(run, std::ref(replica), r);
  }
  run(model, 0);
  for (auto& t : threads) t.join();
  double loss = 0;
  for (int64_t r = 0; r < parts; ++r) {
    const Part& p = out[static_cast<size_t>(r)];
    if (!p.status.ok()) return p.status;
    const double w = static_cast<double>(p.rows) / static_cast<double>(n);
    loss += w * p.loss;
    *correct += p.correct;
    if (parts == 1) break;
    const float wf = static_cast<float>(w);
    if (r == 0) {
      for (Param* q : master) q->grad *= wf;
    } else {
      const std::vector<Param*> rp = replicas[static_cast<size_t>(r - 1)].params();
      for (size_t i = 0; i < master.size(); ++i) master[i]->grad += wf * rp[i]->grad;
    }
  }
  return loss;
}

absl::StatusOr<double> Evaluate(Model& model, const Dataset& data, MatmulEngine& engine) {
  if (data.size() == 0) return absl::InvalidArgumentError("no examples to evaluate");
  int64_t correct = 0;
  for (int64_t start = 0; start < data.size(); start += 500) {
    const int64_t n = std::min<int64_t>(500, data.size() - start);
    Matrix images = data.images.middleRows(start, n);
    ASSIGN_OR_RETURN(Matrix logits, model.Forward(images, engine));
    for (int64_t i = 0; i < n; ++i) {
      Eigen::Index best;
      logits.row(i).maxCoeff(&best);
      correct += best == data.labels[start + i];
    }
  }
  return static_cast<double>(correct) / static_cast<double>(data.size());
}

std::vector<int64_t> TrainingOrder(int64_t n, uint64_t seed, uint64_t epoch) {
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  Pcg32 rng(MixSeed(seed, epoch), 0x73687566);  // "shuf"
  for (int64_t i = n - 1; i > 0; --i) std::swap(idx[i], idx[rng.UniformInt(static_cast<uint32_t>(i + 1))]);
  return idx;
}

absl::StatusOr<LrSchedule> ParseLrSchedule(const std::string& name) {
  if (name == "constant") return LrSchedule::kConstant;
  if (name == "linear") return LrSchedule::kLinear;
  if (name == "cosine") return LrSchedule::kCosine;
  return absl::InvalidArgumentError(absl::StrCat("unknown learning-rate schedule '", name,
                                                 "' (constant, linear or cosine)"));
}

const char* LrScheduleName(LrSchedule s) {
  switch (s) {
    case LrSchedule::kConstant: return "constant";
    case LrSchedule::kLinear: return "linear";
    case LrSchedule::kCosine: return "cosine";
  }
  return "?";
}

double ScheduledLearningRate(double base, LrSchedule s, int64_t step, int64_t total) {
  if (total <= 0) return base;
  const double f = static_cast<double>(std::clamp<int64_t>(step, 0, total)) / static_cast<double>(total);
  switch (s) {
    case LrSchedule::kConstant: return base;
    case LrSchedule::kLinear: return base * (1.0 - f);
    case LrSchedule::kCosine: return base * 0.5 * (1.0 + std::cos(std::numbers::pi * f));
  }
  return base;
}

namespace {

// A resume continues the run that wrote the checkpoint: the same batch size
// (the saved position counts its batches) and, unless the rate is constant,
// the same schedule, length and base rate (the rate of every remaining batch
// depends on them). A constant-rate run may be lengthened or its rate
// changed: that is training on, which the position allows.
absl::Status CheckResume(const std::string& path, const std::optional<RunShape>& saved, const RunShape& now) {
  if (!saved) {
    Log().warn("{} records no run shape (a weights file, or a checkpoint of an older version): resuming without "
               "checking that batch, schedule and run length match", path);
    return absl::OkStatus();
  }
  auto refuse = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " was written by a run with ", what,
        "; resume with the same --batch, --lr, --lr_schedule, --epochs and --max_batches, or start afresh "
        "(without --resume, or with another --checkpoint)"));
  };
  if (saved->batch != now.batch) return refuse(absl::StrCat("batch ", saved->batch, ", not ", now.batch));
  if (saved->lr_schedule != now.lr_schedule) {
    return refuse(absl::StrCat("the ", LrScheduleName(saved->lr_schedule), " learning-rate schedule, not ",
                               LrScheduleName(now.lr_schedule)));
  }
  if (now.lr_schedule == LrSchedule::kConstant) return absl::OkStatus();
  if (saved->total_batches != now.total_batches) {
    return refuse(absl::StrCat(saved->total_batches, " batches in all (its ", LrScheduleName(saved->lr_schedule),
                               " schedule decays over them), not ", now.total_batches));
  }
  if (saved->learning_rate != now.learning_rate) {
    return refuse(absl::StrCat("base learning rate ", saved->learning_rate, ", not ", now.learning_rate));
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// Can `path` be written the way SaveModel writes it (path.tmp, then a
// rename in the same directory)? Leaves nothing behind.
absl::Status CheckWritable(const std::string& path, const char* flag) {
  const std::string tmp = path + ".tmp";
  std::error_code ec;  // the non-throwing overloads: a path we may not even stat is an answer, not an abort
  const bool existed = std::filesystem::exists(tmp, ec);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::app);
    if (!f) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": cannot write ", tmp, " (", std::strerror(errno), "): does the directory exist?"));
    }
  }
  if (!existed) std::filesystem::remove(tmp, ec);
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTrainOptions(const TrainOptions& o) {
  // Named as edge-server train's flags, the one at fault only.
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"--batch", o.batch}, {"--epochs", o.epochs},
                                    {"--checkpoint_every", o.checkpoint_every}}) {
    if (value < 1) return absl::InvalidArgumentError(absl::StrCat(name, " must be >= 1, got ", value));
  }
  if (o.max_batches < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--max_batches must be >= 0 (0: no limit), got ", o.max_batches));
  }
  if (o.threads < 1 || o.threads > 256) {
    return absl::InvalidArgumentError(absl::StrCat("training threads must be in [1, 256], got ", o.threads));
  }
  const SgdOptions& g = o.sgd;
  if (!(std::isfinite(g.learning_rate) && g.learning_rate > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("the learning rate must be finite and > 0, got ", g.learning_rate));
  }
  if (!(g.momentum >= 0 && g.momentum < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("momentum must be in [0, 1), got ", g.momentum));
  }
  if (!(std::isfinite(g.weight_decay) && g.weight_decay >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("weight decay must be finite and >= 0, got ", g.weight_decay));
  }
  if (o.resume && o.checkpoint_path.empty()) {
    return absl::InvalidArgumentError("--resume needs --checkpoint (the file to continue from)");
  }
  if (!o.checkpoint_path.empty()) RETURN_IF_ERROR(CheckWritable(o.checkpoint_path, "--checkpoint"));
  if (!o.weights_path.empty()) RETURN_IF_ERROR(CheckWritable(o.weights_path, "--weights"));
  return absl::OkStatus();
}

namespace {

// The run `o` asks for over `train_size` examples: its length and rates.
RunShape PlannedRun(int64_t train_size, const TrainOptions& o) {
  const int64_t per_epoch = train_size / o.batch;
  const int64_t total = o.max_batches > 0 ? std::min<int64_t>(o.max_batches, per_epoch * o.epochs)
                                          : per_epoch * o.epochs;
  return RunShape{o.batch, total, o.lr_schedule, o.sgd.learning_rate};
}

// With --resume and an existing checkpoint: loads it into `model` and
// returns where it stopped, if it continues this run (same seed and
// shape); nullopt when there is nothing to resume.
absl::StatusOr<std::optional<Position>> ResumeFrom(Model& model, const RunShape& run, const TrainOptions& o) {
  if (!o.resume || o.checkpoint_path.empty() || !std::filesystem::exists(o.checkpoint_path)) return std::nullopt;
  ASSIGN_OR_RETURN(Position pos, LoadModel(model, o.checkpoint_path, o.key ? &*o.key : nullptr));
  if (pos.seed != o.seed) {
    return absl::InvalidArgumentError(absl::StrCat(o.checkpoint_path, " was trained with seed ", pos.seed,
                                                   ", not ", o.seed));
  }
  RETURN_IF_ERROR(CheckResume(o.checkpoint_path, pos.run, run));
  return pos;
}

}  // namespace

absl::Status CheckResumable(const Model& model, int64_t train_size, const TrainOptions& o) {
  Model scratch = model.Clone();
  return ResumeFrom(scratch, PlannedRun(train_size, o), o).status();
}

absl::StatusOr<TrainReport> Train(Model& model, const Dataset& train, const Dataset& test, MatmulEngine& engine,
                                  const TrainOptions& o) {
  RETURN_IF_ERROR(CheckTrainOptions(o));
  if (train.images.cols() != model.input().size() || test.images.cols() != model.input().size()) {
    return absl::InvalidArgumentError(absl::StrCat("data of ", train.images.cols(), " values per image do not fit ",
                                                   "the model's ", model.input().size()));
  }
  if (train.size() < o.batch) return absl::InvalidArgumentError("fewer training examples than one batch");
  const int64_t per_epoch = train.size() / o.batch;
  const RunShape run = PlannedRun(train.size(), o);
  const int64_t total = run.total_batches;
  ASSIGN_OR_RETURN(const std::optional<Position> resumed, ResumeFrom(model, run, o));
  const Position pos = resumed.value_or(Position{0, 0, o.seed, run});
  if (resumed) Log().info("resumed from {} at epoch {} batch {}", o.checkpoint_path, pos.epoch + 1, pos.next_batch);
  std::vector<Model> replicas;  // data parallel: o.threads - 1 more copies of the model
  for (int t = 1; t < o.threads; ++t) replicas.push_back(model.Clone());
  int64_t done_before = static_cast<int64_t>(pos.epoch) * per_epoch + static_cast<int64_t>(pos.next_batch);
  Log().info("SGD: learning rate {} ({} over {} batches), momentum {}, weight decay {}", o.sgd.learning_rate,
             LrScheduleName(o.lr_schedule), total, o.sgd.momentum, o.sgd.weight_decay);
  TrainReport report;
  const auto start = std::chrono::steady_clock::now();
  auto last_print = start;
  double window_loss = 0;
  int64_t window_correct = 0, window_seen = 0, window_batches = 0;
  Matrix images(o.batch, train.images.cols());
  std::vector<int32_t> labels(o.batch);
  for (uint64_t epoch = pos.epoch; epoch < static_cast<uint64_t>(o.epochs) && done_before < total; ++epoch) {
    const std::vector<int64_t> order = TrainingOrder(train.size(), o.seed, epoch);
    for (int64_t b = epoch == pos.epoch ? static_cast<int64_t>(pos.next_batch) : 0;
         b < per_epoch && done_before < total; ++b) {
      if (o.should_stop && o.should_stop()) {
        std::string saved = "nothing saved (no --checkpoint)";
        if (!o.checkpoint_path.empty()) {
          RETURN_IF_ERROR(SaveModel(model, o.checkpoint_path, true,
                                    Position{epoch, static_cast<uint64_t>(b), o.seed, run}, o.key ? &*o.key : nullptr));
          saved = absl::StrCat("checkpoint ", o.checkpoint_path, " at epoch ", epoch + 1, " batch ", b,
                               ": --resume continues from there");
        }
        return absl::CancelledError(absl::StrCat("stopped after ", report.batches, " batches of this run; ", saved));
      }
      for (int64_t i = 0; i < o.batch; ++i) {
        images.row(i) = train.images.row(order[b * o.batch + i]);
        labels[i] = train.labels[order[b * o.batch + i]];
      }
      int64_t correct = 0;
      ASSIGN_OR_RETURN(const double loss, BatchGradients(model, replicas, images, labels, engine, &correct));
      if (!std::isfinite(loss)) return absl::InternalError(absl::StrCat("loss is ", loss, " at batch ", b + 1));
      SgdOptions sgd = o.sgd;
      sgd.learning_rate = ScheduledLearningRate(o.sgd.learning_rate, o.lr_schedule, done_before, total);
      model.Step(sgd);
      ++report.batches;
      ++done_before;
      window_loss += loss;
      window_correct += correct;
      window_seen += o.batch;
      ++window_batches;
      const bool last = done_before == total;
      if (!o.checkpoint_path.empty() && (done_before % o.checkpoint_every == 0 || last)) {
        RETURN_IF_ERROR(SaveModel(model, o.checkpoint_path, true,
                                  Position{epoch, static_cast<uint64_t>(b + 1), o.seed, run}, o.key ? &*o.key : nullptr));
      }
      const double elapsed = Since(start);
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - last_print).count() >= o.progress_seconds ||
          last) {
        const double ms = 1e3 * elapsed / static_cast<double>(report.batches);
        // A run cut short by max_batches also says how far it is (batch 5
        // of the epoch's 1200 was all `make demo` showed of its 20).
        const std::string run_part =
            total < static_cast<int64_t>(o.epochs) * per_epoch ? absl::StrCat(" (", done_before, "/", total, " of the run)")
                                                               : "";
        Log().info("epoch {} batch {}/{}{}: loss {:.4f}, accuracy {:.1f}%, {:.1f} ms/batch, ETA {:.0f} s", epoch + 1,
                   b + 1, per_epoch, run_part, window_loss / window_batches, 100.0 * window_correct / window_seen, ms,
                   ms * static_cast<double>(total - done_before) / 1e3);
        report.last_loss = window_loss / window_batches;
        report.train_accuracy = static_cast<double>(window_correct) / window_seen;
        window_loss = 0;
        window_correct = window_seen = window_batches = 0;
        last_print = std::chrono::steady_clock::now();
      }
    }
  }
  report.seconds = Since(start);
  report.ms_per_batch = report.batches > 0 ? 1e3 * report.seconds / static_cast<double>(report.batches) : 0;
  ASSIGN_OR_RETURN(report.test_accuracy, Evaluate(model, test, engine));
  if (!o.weights_path.empty()) {
    RETURN_IF_ERROR(
        SaveModel(model, o.weights_path, false, Position{0, 0, o.seed, std::nullopt}, o.key ? &*o.key : nullptr));
  }
  return report;
}

}  // namespace codedge::cnn
