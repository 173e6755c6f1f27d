// Multi-process tests: the real edge-server and edge-worker binaries on
// loopback (port 0), driven through Compute.Multiply. Each process is killed
// at the end of its test; every wait is bounded.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/matrix_util.h"
#include <grpcpp/grpcpp.h>

#include "proto/codedge.grpc.pb.h"
#include "proto/wire.h"

extern char** environ;

namespace codedge {
namespace {

// A child process with stdout+stderr in a temporary file.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::string& log) : log_(log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Process() { Kill(SIGKILL); }
  void Kill(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  void Signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  std::string Log() const {
    std::ifstream f(log_);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  // Waits (bounded) until the log contains `text`.
  bool WaitFor(const std::string& text, absl::Duration timeout = absl::Seconds(20)) const {
    const absl::Time end = absl::Now() + timeout;
    absl::Notification never;
    while (absl::Now() < end) {
      if (Log().find(text) != std::string::npos) return true;
      never.WaitForNotificationWithTimeout(absl::Milliseconds(20));
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

std::string TempPath(const std::string& name) { return absl::StrCat("/tmp/codedge-test-", getpid(), "-", name); }

struct ServerProcess {
  std::unique_ptr<Process> proc;
  int port = 0;
  explicit ServerProcess(int fixed_port = 0, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{CODEDGE_EDGE_SERVER, absl::StrCat("--listen=127.0.0.1:", fixed_port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<Process>(argv, TempPath(absl::StrCat("server-", fixed_port, ".log")));
    REQUIRE(proc->WaitFor("listening on port "));
    const std::string log = proc->Log();
    port = std::stoi(log.substr(log.find("listening on port ") + 18));
  }
};

std::unique_ptr<Process> StartWorker(int port, int i, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {CODEDGE_EDGE_WORKER, absl::StrCat("--server=127.0.0.1:", port),
                                   absl::StrCat("--name=w", i), absl::StrCat("--seed=", i + 1), "--threads=1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<Process>(argv, TempPath(absl::StrCat("worker-", i, ".log")));
}

grpc::Status Multiply(int port, const Matrix& a, const Matrix& b, const std::string& spec, Matrix* product,
                      v1::JobStats* stats = nullptr) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(1 << 30);
  args.SetMaxSendMessageSize(1 << 30);
  auto stub = v1::Compute::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
  v1::MultiplyRequest req;
  MatrixToProto(a, req.mutable_a());
  MatrixToProto(b, req.mutable_b());
  req.mutable_strategy()->set_spec(spec);
  v1::MultiplyResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  ctx.set_wait_for_ready(true);  // the server may be (re)starting
  grpc::Status st = stub->Multiply(&ctx, req, &resp);
  if (st.ok()) {
    *product = *MatrixFromProto(resp.product(), "product");
    if (stats) *stats = resp.stats();
  }
  return st;
}

TEST_CASE("Real processes: every strategy with 3 workers", "[process]") {
  ServerProcess server;
  std::vector<std::unique_ptr<Process>> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(StartWorker(server.port, i));
  for (auto& w : workers) REQUIRE(w->WaitFor("connected to"));
  Pcg32 rng(20, 1);
  const Matrix a = RandomUniformMatrix(500, 64, rng), b = RandomUniformMatrix(64, 8, rng);
  const MatrixD exact = a.cast<double>() * b.cast<double>();
  for (const char* spec : {"uncoded:k=12", "speculative:k=12", "replication:k=8,copies=2", "mds:m=15,n=10",
                           "lt:symbols_per_task=25"}) {
    INFO(spec);
    Matrix product;
    REQUIRE(Multiply(server.port, a, b, spec, &product).ok());
    CHECK(RelativeError(product, exact) < 1e-3);
  }
}

TEST_CASE("Real processes: workers killed mid-job (SIGKILL, --fail_after) do not lose the job", "[process]") {
  ServerProcess server;
  std::vector<std::unique_ptr<Process>> workers;
  workers.push_back(StartWorker(server.port, 0, {"--delay=const:0.02"}));
  workers.push_back(StartWorker(server.port, 1, {"--delay=const:0.02", "--fail_after=2"}));
  workers.push_back(StartWorker(server.port, 2, {"--delay=const:0.02"}));
  for (auto& w : workers) REQUIRE(w->WaitFor("connected to"));
  Pcg32 rng(21, 1);
  const Matrix a = RandomUniformMatrix(400, 32, rng), b = RandomUniformMatrix(32, 4, rng);
  const MatrixD exact = a.cast<double>() * b.cast<double>();
  // MDS with n = 10: larger real-valued codes lose accuracy on bad subsets
  // (BENCHMARKS.md: rotation (30,20) worst relative error 2.7e-3).
  for (const char* spec : {"uncoded:k=40", "mds:m=20,n=10"}) {
    INFO(spec);
    std::thread killer([&] {
      if (workers[2]->WaitFor("connected to")) {
        absl::Notification never;
        never.WaitForNotificationWithTimeout(absl::Milliseconds(150));
        workers[2]->Kill(SIGKILL);
      }
    });
    Matrix product;
    grpc::Status st = Multiply(server.port, a, b, spec, &product);
    killer.join();
    REQUIRE(st.ok());
    CHECK(RelativeError(product, exact) < 1e-3);
    workers[2] = StartWorker(server.port, 2, {"--delay=const:0.02"});
  }
  // The --fail_after worker exited on its own, abruptly.
  CHECK(workers[1]->Log().find("--fail-after 2 reached") != std::string::npos);
}

TEST_CASE("Real processes: a frozen worker (SIGSTOP) is dropped and an uncoded job still completes", "[process]") {
  ServerProcess server(0, {"--heartbeat_interval=100ms", "--worker_timeout=1s"});
  std::vector<std::unique_ptr<Process>> workers;
  workers.push_back(StartWorker(server.port, 0, {"--delay=const:0.05"}));
  workers.push_back(StartWorker(server.port, 1, {"--delay=const:0.05"}));
  for (auto& w : workers) REQUIRE(w->WaitFor("connected to"));
  Pcg32 rng(23, 1);
  const Matrix a = RandomUniformMatrix(200, 16, rng), b = RandomUniformMatrix(16, 4, rng);
  std::thread freezer([&] {
    absl::Notification never;
    never.WaitForNotificationWithTimeout(absl::Milliseconds(30));  // it holds tasks by now
    workers[1]->Signal(SIGSTOP);
  });
  Matrix product;
  const absl::Time start = absl::Now();
  grpc::Status st = Multiply(server.port, a, b, "uncoded:k=20", &product);
  freezer.join();
  REQUIRE(st.ok());
  CHECK(RelativeError(product, a.cast<double>() * b.cast<double>()) < 1e-5);
  CHECK(absl::Now() - start < absl::Seconds(15));  // the silence timeout, not the job deadline (30 s)
  CHECK(server.proc->WaitFor("silent for", absl::Seconds(1)));
  workers[1]->Signal(SIGCONT);
}

TEST_CASE("Real processes: workers reconnect after a server restart", "[process]") {
  auto server = std::make_unique<ServerProcess>();
  const int port = server->port;
  std::vector<std::unique_ptr<Process>> workers;
  for (int i = 0; i < 2; ++i) workers.push_back(StartWorker(port, i));
  for (auto& w : workers) REQUIRE(w->WaitFor("as worker"));
  server->proc->Kill(SIGTERM);
  server = std::make_unique<ServerProcess>(port);  // same port
  REQUIRE(server->proc->WaitFor("connected", absl::Seconds(20)));
  Pcg32 rng(22, 1);
  const Matrix a = RandomUniformMatrix(100, 16, rng), b = RandomUniformMatrix(16, 4, rng);
  Matrix product;
  REQUIRE(Multiply(port, a, b, "mds:m=8,n=5", &product).ok());
  CHECK(RelativeError(product, a.cast<double>() * b.cast<double>()) < 1e-4);
}

}  // namespace
}  // namespace codedge
