// edge-worker: pulls coded tasks from an edge-server and computes them.
// Runs until SIGINT/SIGTERM; reconnects when the server restarts.
#include <csignal>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/address.h"
#include "common/flags_help.h"
#include "common/linalg.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/signals.h"
#include "proto/client_flags.h"
#include "worker/client.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "edge-server host:port");
ABSL_FLAG(std::string, name, "", "name in the server's logs (default: worker-PID)");
ABSL_FLAG(int, credits, 2, "tasks in flight (one computes while the next arrives)");
ABSL_FLAG(int, threads, 0, "BLAS threads per product (0: all cores)");
ABSL_FLAG(std::string, delay, "none",
          "injected per-task delay: none, const:T, uniform:LO,HI, normal:MEAN,SD, exp:MEAN, shifted-exp:SHIFT,MEAN "
          "(seconds)");
ABSL_FLAG(std::string, delay_scope, "task", "task: --delay before every task; job: once per job, before its first task");
ABSL_FLAG(double, row_time, 0, "emulated speed: a task of r rows takes at least r x this many seconds (0: off)");
ABSL_FLAG(double, slowdown, 1.0, "compute takes this many times longer (waits (F-1) x the compute time)");
ABSL_FLAG(int64_t, fail_after, 0, "exit abruptly after this many results (fault tests; 0: never)");
ABSL_FLAG(uint64_t, seed, 1, "seed of the injected delays (and of --corrupt_results)");
ABSL_FLAG(double, corrupt_results, 0,
          "fault tests: change one entry of this fraction of results (0..1), as a faulty or malicious device would");
ABSL_FLAG(int64_t, chunk_rows, 0, "rows computed between cancel checks (0: automatic, ~2M multiply-adds per chunk)");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error or off");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(60),
          "on SIGTERM/SIGINT: finish the tasks held (taking no more) for at most this long, then stop; a second "
          "signal stops at once (0: stop at once)");

int main(int argc, char** argv) {
  codedge::TuneProcess();
  codedge::InstallTerminationHandlers();
  absl::SetProgramUsageMessage("edge-worker --server HOST:PORT [--delay exp:0.1] [--slowdown 2]");
  codedge::ListOurFlagsInHelp();
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() > 1) {
    std::cerr << "edge-worker: unexpected argument '" << args[1] << "'\n";
    return 2;
  }
  if (auto s = codedge::SetLogLevel(absl::GetFlag(FLAGS_log_level)); !s.ok()) {
    std::cerr << "edge-worker: --log_level: " << s.message() << "\n";
    return 2;
  }
  if (const int t = absl::GetFlag(FLAGS_threads); t < 0 || t > 1024) {
    std::cerr << "edge-worker: --threads must be in [0, 1024] (0: every core), got " << t << "\n";
    return 2;
  }
  codedge::EnsureBlasEnvironment(absl::GetFlag(FLAGS_threads), argv);
  codedge::WorkerOptions o;
  o.server = absl::GetFlag(FLAGS_server);
  if (absl::Status s = codedge::CheckHostPort(o.server, "--server", /*listen=*/false); !s.ok()) {
    std::cerr << "edge-worker: " << s.message() << "\n";
    return 2;
  }
  o.name = absl::GetFlag(FLAGS_name).empty() ? "worker-" + std::to_string(getpid()) : absl::GetFlag(FLAGS_name);
  o.credits = absl::GetFlag(FLAGS_credits);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.exec.slowdown = absl::GetFlag(FLAGS_slowdown);
  o.exec.chunk_rows = absl::GetFlag(FLAGS_chunk_rows);
  o.exec.row_seconds = absl::GetFlag(FLAGS_row_time);
  if (const std::string scope = absl::GetFlag(FLAGS_delay_scope); scope == "job") {
    o.delay_scope = codedge::WorkerOptions::DelayScope::kJob;
  } else if (scope != "task") {
    std::cerr << "edge-worker: --delay_scope must be task or job, got '" << scope << "'\n";
    return 2;
  }
  o.fail_after = absl::GetFlag(FLAGS_fail_after);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.corrupt_results = absl::GetFlag(FLAGS_corrupt_results);
  if (!(o.corrupt_results >= 0 && o.corrupt_results <= 1)) {
    std::cerr << "edge-worker: --corrupt_results must be in [0, 1], got " << o.corrupt_results << "\n";
    return 2;
  }
  auto delay = codedge::ParseDelaySpec(absl::GetFlag(FLAGS_delay));
  if (!delay.ok()) {
    std::cerr << "edge-worker: --delay: " << delay.status().message() << "\n";
    return 2;
  }
  o.delay = *delay;
  auto security = codedge::ClientSecurityFromFlags();  // --insecure, --tls_*, --token_file
  if (!security.ok()) {
    std::cerr << "edge-worker: " << security.status().message() << "\n";
    return 2;
  }
  o.security = *security;
  if (o.security.plaintext) {
    codedge::Log().warn("plaintext connection to {}: the tasks can be read on the network", o.server);
  }
  auto client = codedge::WorkerClient::Create(o);
  if (!client.ok()) {
    std::cerr << "edge-worker: " << client.status().message() << "\n";
    return 2;
  }
  codedge::SetComputeThreads(o.threads);
  const absl::Duration drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  if (drain_timeout < absl::ZeroDuration()) {
    std::cerr << "edge-worker: --drain_timeout must be >= 0\n";
    return 2;
  }
  // Static: the detached threads below may outlive main's frame by a moment.
  static absl::Notification stop, drain;
  static std::once_flag stop_once;  // the timer and a second signal may both stop
  static auto stop_now = [] { std::call_once(stop_once, [] { stop.Notify(); }); };
  std::thread waiter([drain_timeout, name = o.name] {
    codedge::WaitForTermination();
    if (drain_timeout > absl::ZeroDuration()) {
      codedge::Log().info("{}: termination signal: draining (at most {}; signal again to stop now)", name,
                          absl::FormatDuration(drain_timeout));
      drain.Notify();
      std::thread([drain_timeout, name] {
        if (!stop.WaitForNotificationWithTimeout(drain_timeout)) {
          codedge::Log().warn("{}: drain not done after {}: stopping", name, absl::FormatDuration(drain_timeout));
          stop_now();
        }
      }).detach();
      codedge::WaitForTermination();
    }
    stop_now();
  });
  waiter.detach();  // the process ends when Run returns

  absl::Status s = (*client)->Run(&stop, &drain);
  if (!s.ok()) {
    std::cerr << "edge-worker: " << s.message() << "\n";
    return 1;
  }
  codedge::Log().info("{}: stopped after {} results", o.name, (*client)->results_sent());
  return 0;
}
