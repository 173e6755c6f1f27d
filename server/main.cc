// edge-server: the task pool and its gRPC services. Runs until SIGINT/SIGTERM.
#include <csignal>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/signals.h"
#include "server/edge_server.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "host:port to serve on (port 0: any free port, printed)");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(1), "how often workers send a heartbeat");
ABSL_FLAG(absl::Duration, worker_timeout, absl::Seconds(10),
          "drop a worker silent for this long (its tasks go to the others)");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error or off");

int main(int argc, char** argv) {
  codedge::TuneProcess();
  codedge::InstallTerminationHandlers();
  absl::SetProgramUsageMessage("edge-server --listen HOST:PORT\nServes edge workers (Worker.Connect) and clients "
                               "(Compute.Multiply, Compute.ClusterStatus).");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() > 1) {
    std::cerr << "edge-server: unexpected argument '" << args[1] << "'\n";
    return 2;
  }
  if (auto s = codedge::SetLogLevel(absl::GetFlag(FLAGS_log_level)); !s.ok()) {
    std::cerr << "edge-server: --log_level: " << s.message() << "\n";
    return 2;
  }
  codedge::EdgeServerOptions options;
  options.address = absl::GetFlag(FLAGS_listen);
  options.workers.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.workers.silence_timeout = absl::GetFlag(FLAGS_worker_timeout);
  if (options.workers.heartbeat_interval < absl::Milliseconds(10) ||
      options.workers.silence_timeout < 2 * options.workers.heartbeat_interval) {
    std::cerr << "edge-server: need --heartbeat_interval >= 10ms and --worker_timeout >= 2 x --heartbeat_interval\n";
    return 2;
  }
  auto server = codedge::EdgeServer::Start(options);
  if (!server.ok()) {
    std::cerr << "edge-server: " << server.status().message() << "\n";
    return 1;
  }
  std::cout << "edge-server listening on port " << (*server)->port() << std::endl;
  const int sig = codedge::WaitForTermination();
  codedge::Log().info("signal {}: shutting down", sig);
  (*server)->Shutdown(absl::Seconds(2));
  return 0;
}
