// edge-server: the task pool and its gRPC services. Runs until SIGINT/SIGTERM.
#include <csignal>
#include <algorithm>
#include <iostream>
#include <thread>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/logging.h"
#include "common/crypto.h"
#include "common/flags_help.h"
#include "common/linalg.h"
#include "common/process.h"
#include "common/signals.h"
#include "server/edge_server.h"
#include "server/train_command.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "host:port to serve on (port 0: any free port, printed)");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(1), "how often workers send a heartbeat");
ABSL_FLAG(absl::Duration, worker_timeout, absl::Seconds(10),
          "drop a worker silent for this long (its tasks go to the others)");
ABSL_FLAG(int64_t, task_piece_bytes, int64_t{4} << 20,
          "send task blocks larger than this in pieces of about this size, so a worker unpacks one while the next "
          "is on the wire (>= 4096)");
ABSL_FLAG(int, max_jobs_per_client, 64, "Multiply calls one client host may have in flight (more: RESOURCE_EXHAUSTED)");
ABSL_FLAG(int, max_message_mb, 1024, "largest gRPC message accepted or sent, MiB (a request carries A and B)");
ABSL_FLAG(bool, verify_results, false,
          "check every worker result with Freivalds' test (two matrix-vector passes over the task's rows); a "
          "worker with a wrong result gets no more tasks");
// Transport security (one of --tls_cert/--tls_key or --insecure; proto/credentials.h)
ABSL_FLAG(bool, insecure, false, "plaintext (a network you trust; logged as a warning)");
ABSL_FLAG(std::string, tls_cert, "", "TLS: this server's certificate chain (PEM)");
ABSL_FLAG(std::string, tls_key, "", "TLS: this server's private key (PEM)");
ABSL_FLAG(std::string, tls_client_ca, "",
          "mutual TLS: CA certificate (PEM); workers and clients must present a certificate it signed");
ABSL_FLAG(std::string, token_file, "", "require this token (first line of the file) from workers and clients");
// edge-server train
ABSL_FLAG(std::string, model, "vgg-mini", "train: vgg-mini (28x28x1), vgg11 (32x32x3) or vgg:H,W,C:LAYERS:FC (cnn/model.h)");
ABSL_FLAG(std::string, data, "fashion-mnist",
          "train: fashion-mnist (the Debian package), a directory of MNIST idx files, or cifar10:DIR (binary batches)");
ABSL_FLAG(int64_t, batch, 50, "train: images per batch");
ABSL_FLAG(int, epochs, 1, "train: passes over the training set");
ABSL_FLAG(int64_t, max_batches, 0, "train: stop after this many batches (0: all epochs)");
ABSL_FLAG(std::string, strategy, "mds", "train: coding strategy of every product (as in Compute.Multiply)");
ABSL_FLAG(bool, local, false, "train: compute every product on this machine (no workers)");
ABSL_FLAG(int, workers, 1, "train: wait for this many workers before training");
ABSL_FLAG(absl::Duration, wait_workers, absl::Minutes(2), "train: how long to wait for --workers before giving up");
ABSL_FLAG(double, lr, 0.01, "train: SGD learning rate");
ABSL_FLAG(std::string, lr_schedule, "linear",
          "train: learning rate over the run of --epochs / --max_batches: constant, linear or cosine (decayed "
          "towards zero at the end of the run; --resume then needs the same run length, checked)");
ABSL_FLAG(double, momentum, 0.9, "train: SGD momentum");
ABSL_FLAG(double, weight_decay, 5e-4, "train: L2 weight decay (weights, not biases)");
ABSL_FLAG(std::string, checkpoint, "", "train: checkpoint file (written every --checkpoint_every batches)");
ABSL_FLAG(int64_t, checkpoint_every, 100, "train: batches between checkpoints");
ABSL_FLAG(bool, resume, false, "train: continue from --checkpoint if it exists");
ABSL_FLAG(std::string, weights, "", "train: save the trained weights here (format in cnn/trainer.h)");
ABSL_FLAG(std::string, key_file, "",
          "train: encrypt checkpoints and weights with this AES-256 key (64 hex digits; openssl rand -hex 32)");
ABSL_FLAG(int, train_threads, 0,
          "train --local: split each batch over this many threads, a model replica and one BLAS thread each "
          "(0: one per core; on the cluster every batch runs whole)");
ABSL_FLAG(int64_t, train_limit, 0, "train: use only the first N training images (0: all)");
ABSL_FLAG(int64_t, test_limit, 0, "train: use only the first N test images (0: all)");
ABSL_FLAG(uint64_t, seed, 1, "train: seed of the initial weights and of the shuffling");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error or off");

int main(int argc, char** argv) {
  codedge::TuneProcess();
  codedge::InstallTerminationHandlers();
  absl::SetProgramUsageMessage(
      "edge-server --listen HOST:PORT\n  Serves edge workers (Worker.Connect) and clients (Compute.Multiply, "
      "Compute.ClusterStatus).\nedge-server train --model vgg-mini --data fashion-mnist --batch 50 --epochs 1 "
      "--strategy mds|lt|uncoded|... [--local]\n  Trains a CNN whose products run coded on the workers.");
  codedge::ListOurFlagsInHelp();
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const bool train = args.size() > 1 && std::string(args[1]) == "train";
  if (args.size() > (train ? 2 : 1)) {
    std::cerr << "edge-server: unexpected argument '" << args[train ? 2 : 1] << "'\n";
    return 2;
  }
  if (auto s = codedge::SetLogLevel(absl::GetFlag(FLAGS_log_level)); !s.ok()) {
    std::cerr << "edge-server: --log_level: " << s.message() << "\n";
    return 2;
  }
  // Local training computes on every core: all BLAS threads for one
  // training thread, one BLAS thread each when the batch is split over
  // threads. Serving and cluster training move bytes, encode and decode,
  // and their local products are small: one BLAS thread (idle pool threads
  // spin in sched_yield on the network threads' cores: ~20 % of a cluster
  // training server's samples with two; LT training without stragglers
  // 240/238 -> 234/232 ms per batch with one, BENCHMARKS.md session 9).
  int train_threads = 1;
  const bool local_train = train && absl::GetFlag(FLAGS_local);
  if (local_train) {
    train_threads = absl::GetFlag(FLAGS_train_threads);
    if (train_threads < 0 || train_threads > 256) {
      std::cerr << "edge-server: --train_threads must be in [0, 256], got " << train_threads << "\n";
      return 2;
    }
    if (train_threads == 0) train_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  codedge::EnsureBlasEnvironment(local_train && train_threads == 1 ? 0 : 1, argv);
  codedge::EdgeServerOptions options;
  options.address = absl::GetFlag(FLAGS_listen);
  options.workers.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.workers.silence_timeout = absl::GetFlag(FLAGS_worker_timeout);
  if (options.workers.heartbeat_interval < absl::Milliseconds(10) ||
      options.workers.silence_timeout < 2 * options.workers.heartbeat_interval) {
    std::cerr << "edge-server: need --heartbeat_interval >= 10ms and --worker_timeout >= 2 x --heartbeat_interval\n";
    return 2;
  }
  codedge::SecurityFiles sec;
  sec.insecure = absl::GetFlag(FLAGS_insecure);
  sec.cert_file = absl::GetFlag(FLAGS_tls_cert);
  sec.key_file = absl::GetFlag(FLAGS_tls_key);
  sec.ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  sec.token_file = absl::GetFlag(FLAGS_token_file);
  // `train --local` serves nobody: no transport to secure.
  if (!(train && absl::GetFlag(FLAGS_local))) {
    auto security = codedge::LoadServerSecurity(sec);
    if (!security.ok()) {
      std::cerr << "edge-server: " << security.status().message() << "\n";
      return 2;
    }
    options.security = *security;
  }
  options.verify_results = absl::GetFlag(FLAGS_verify_results);
  options.max_jobs_per_client = absl::GetFlag(FLAGS_max_jobs_per_client);
  if (options.max_jobs_per_client < 1) {
    std::cerr << "edge-server: --max_jobs_per_client must be >= 1\n";
    return 2;
  }
  if (const int mb = absl::GetFlag(FLAGS_max_message_mb); mb < 1 || mb > 2047) {
    std::cerr << "edge-server: --max_message_mb must be in [1, 2047], got " << mb << "\n";
    return 2;
  } else {
    options.max_message_bytes = mb << 20;
  }
  options.workers.task_piece_bytes = absl::GetFlag(FLAGS_task_piece_bytes);
  if (options.workers.task_piece_bytes < 4096) {
    std::cerr << "edge-server: --task_piece_bytes must be >= 4096, got " << options.workers.task_piece_bytes << "\n";
    return 2;
  }
  if (train) {
    codedge::TrainCommand c;
    c.model = absl::GetFlag(FLAGS_model);
    c.data = absl::GetFlag(FLAGS_data);
    c.strategy = absl::GetFlag(FLAGS_strategy);
    c.local = absl::GetFlag(FLAGS_local);
    c.min_workers = absl::GetFlag(FLAGS_workers);
    c.wait_for_workers = absl::GetFlag(FLAGS_wait_workers);
    if (c.wait_for_workers <= absl::ZeroDuration()) {
      std::cerr << "edge-server: --wait_workers must be > 0, got " << absl::FormatDuration(c.wait_for_workers) << "\n";
      return 2;
    }
    c.train_limit = absl::GetFlag(FLAGS_train_limit);
    c.test_limit = absl::GetFlag(FLAGS_test_limit);
    c.model_seed = absl::GetFlag(FLAGS_seed);
    c.train.batch = absl::GetFlag(FLAGS_batch);
    c.train.threads = train_threads;
    c.train.epochs = absl::GetFlag(FLAGS_epochs);
    c.train.max_batches = absl::GetFlag(FLAGS_max_batches);
    c.train.sgd = {absl::GetFlag(FLAGS_lr), absl::GetFlag(FLAGS_momentum), absl::GetFlag(FLAGS_weight_decay)};
    c.train.seed = absl::GetFlag(FLAGS_seed);
    if (auto schedule = codedge::cnn::ParseLrSchedule(absl::GetFlag(FLAGS_lr_schedule)); schedule.ok()) {
      c.train.lr_schedule = *schedule;
    } else {
      std::cerr << "edge-server: --lr_schedule: " << schedule.status().message() << "\n";
      return 2;
    }
    c.train.checkpoint_path = absl::GetFlag(FLAGS_checkpoint);
    c.train.checkpoint_every = absl::GetFlag(FLAGS_checkpoint_every);
    c.train.resume = absl::GetFlag(FLAGS_resume);
    c.train.weights_path = absl::GetFlag(FLAGS_weights);
    if (const std::string kf = absl::GetFlag(FLAGS_key_file); !kf.empty()) {
      auto key = codedge::LoadKeyFile(kf);
      if (!key.ok()) {
        std::cerr << "edge-server: --key_file: " << key.status().message() << "\n";
        return 2;
      }
      c.train.key = *key;
    }
    c.server = options;
    if (absl::Status s = codedge::RunTrainCommand(c); !s.ok()) {
      if (const int sig = codedge::TerminationRequested(); sig != 0 && s.code() == absl::StatusCode::kCancelled) {
        std::cerr << "edge-server train: signal " << sig << ": " << s.message() << "\n";
        return 128 + sig;  // as a shell reports a process killed by it
      }
      std::cerr << "edge-server train: " << s.message() << "\n";
      return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
    }
    return 0;
  }
  auto server = codedge::EdgeServer::Start(options);
  if (!server.ok()) {
    std::cerr << "edge-server: " << server.status().message() << "\n";
    return server.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cout << "edge-server listening on port " << (*server)->port() << std::endl;
  const int sig = codedge::WaitForTermination();
  codedge::Log().info("signal {}: shutting down", sig);
  (*server)->Shutdown(absl::Seconds(2));
  return 0;
}
