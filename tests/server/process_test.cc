// Multi-process tests: the real edge-server and edge-worker binaries on
// loopback (port 0), driven through Compute.Multiply. Each process is killed
// at the end of its test; every wait is bounded.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
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
#include "proto/credentials.h"
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
    REQUIRE(posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ) == 0);  // PATH: an emulator by name
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
  // Waits (bounded) for the process to exit; its exit code, or -1 if it
  // did not exit in time or died of a signal.
  int WaitExit(absl::Duration timeout) {
    absl::Notification never;
    for (absl::Time end = absl::Now() + timeout; pid_ > 0 && absl::Now() < end;) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      never.WaitForNotificationWithTimeout(absl::Milliseconds(20));
    }
    return -1;
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

bool ChoosesSecurity(const std::vector<std::string>& args) {
  for (const std::string& a : args)
    if (a.rfind("--tls", 0) == 0 || a.rfind("--insecure", 0) == 0) return true;
  return false;
}

struct ServerProcess {
  std::unique_ptr<Process> proc;
  int port = 0;
  // Plaintext unless `extra` chooses security itself.
  explicit ServerProcess(int fixed_port = 0, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{CODEDGE_EDGE_SERVER, absl::StrCat("--listen=127.0.0.1:", fixed_port)};
    if (!ChoosesSecurity(extra)) argv.push_back("--insecure");
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<Process>(argv, TempPath(absl::StrCat("server-", fixed_port, ".log")));
    REQUIRE(proc->WaitFor("listening on port "));
    const std::string log = proc->Log();
    port = std::stoi(log.substr(log.find("listening on port ") + 18));
  }
};

// CODEDGE_WORKER_BINARY replaces the worker binary and CODEDGE_WORKER_WRAPPER
// runs it through an emulator (make arm64: the arm64 worker under
// qemu-aarch64-static against this native server).
std::unique_ptr<Process> StartWorker(int port, int i, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv;
  if (const char* wrapper = std::getenv("CODEDGE_WORKER_WRAPPER")) argv.push_back(wrapper);
  const char* binary = std::getenv("CODEDGE_WORKER_BINARY");
  argv.push_back(binary != nullptr ? binary : CODEDGE_EDGE_WORKER);
  for (std::string a : {absl::StrCat("--server=127.0.0.1:", port), absl::StrCat("--name=w", i),
                        absl::StrCat("--seed=", i + 1), std::string("--threads=1")}) {
    argv.push_back(a);
  }
  if (!ChoosesSecurity(extra)) argv.push_back("--insecure");
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<Process>(argv, TempPath(absl::StrCat("worker-", i, ".log")));
}

grpc::Status Multiply(int port, const Matrix& a, const Matrix& b, const std::string& spec, Matrix* product,
                      v1::JobStats* stats = nullptr, const ClientSecurity& security = PlaintextClient(),
                      absl::Duration timeout = absl::Seconds(30)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(1 << 30);
  args.SetMaxSendMessageSize(1 << 30);
  security.Apply(&args);
  auto stub = v1::Compute::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), security.credentials, args));
  v1::MultiplyRequest req;
  MatrixToProto(a, req.mutable_a());
  MatrixToProto(b, req.mutable_b());
  req.mutable_strategy()->set_spec(spec);
  v1::MultiplyResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  ctx.set_wait_for_ready(true);  // the server may be (re)starting
  security.Apply(&ctx);
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

TEST_CASE("Real processes: a frozen worker with a write in flight is dropped at once, not at keepalive", "[process]") {
  // The worker freezes before the job: its B (16 MB) is more than HTTP/2's
  // window lets the server send, so that write stays in flight. Dropping
  // the silent worker must not wait for it (the job took 10.7 s when it
  // did).
  ServerProcess server(0, {"--heartbeat_interval=100ms", "--worker_timeout=1s"});
  std::vector<std::unique_ptr<Process>> workers;
  workers.push_back(StartWorker(server.port, 0, {}));
  workers.push_back(StartWorker(server.port, 1, {}));
  for (auto& w : workers) REQUIRE(w->WaitFor("connected to"));
  workers[1]->Signal(SIGSTOP);
  Pcg32 rng(24, 1);
  const Matrix a = RandomUniformMatrix(40, 16, rng), b = RandomUniformMatrix(16, 262144, rng);
  Matrix product;
  const absl::Time start = absl::Now();
  grpc::Status st = Multiply(server.port, a, b, "uncoded:k=20", &product);
  const absl::Duration took = absl::Now() - start;
  workers[1]->Signal(SIGCONT);
  REQUIRE(st.ok());
  CHECK(RelativeError(product, a.cast<double>() * b.cast<double>()) < 1e-5);
  CHECK(server.proc->WaitFor("silent for", absl::Seconds(1)));
  CHECK(took < absl::Seconds(8));  // the 1 s silence timeout and the work, not keepalive
}

TEST_CASE("Real processes: SIGTERM drains a worker: it finishes its tasks, sends them, and exits 0", "[process][drain]") {
  ServerProcess server;
  auto fast = StartWorker(server.port, 0, {});
  auto slow = StartWorker(server.port, 1, {"--delay=const:0.5"});
  REQUIRE(fast->WaitFor("connected to"));
  REQUIRE(slow->WaitFor("connected to"));
  Pcg32 rng(25, 1);
  const Matrix a = RandomUniformMatrix(200, 16, rng), b = RandomUniformMatrix(16, 4, rng);
  std::thread terminator([&] {
    absl::Notification never;
    never.WaitForNotificationWithTimeout(absl::Milliseconds(150));  // it holds tasks by now
    slow->Signal(SIGTERM);
  });
  Matrix product;
  grpc::Status st = Multiply(server.port, a, b, "uncoded:k=8", &product);
  terminator.join();
  REQUIRE(st.ok());
  CHECK(RelativeError(product, a.cast<double>() * b.cast<double>()) < 1e-5);
  CHECK(slow->WaitExit(absl::Seconds(10)) == 0);
  const std::string log = slow->Log();
  CHECK(log.find("draining") != std::string::npos);
  CHECK(log.find("drained: every task it held is done and sent") != std::string::npos);
  CHECK(log.find("stopped after 0 results") == std::string::npos);  // its held tasks were sent, not dropped
  CHECK(server.proc->WaitFor("draining: it finishes the tasks it holds", absl::Seconds(1)));
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

namespace codedge {
namespace {

// A development CA and certificates from scripts/make-dev-certs.sh (once per
// test binary), plus a second CA whose certificates the server must refuse.
struct DevCerts {
  std::string dir = TempPath("certs"), rogue = TempPath("rogue-certs");
  DevCerts() {
    const std::string script = CODEDGE_SOURCE_DIR "/scripts/make-dev-certs.sh";
    REQUIRE(std::system((script + " " + dir + " > /dev/null").c_str()) == 0);
    REQUIRE(std::system((script + " " + rogue + " -- worker0 > /dev/null").c_str()) == 0);
  }
  ~DevCerts() { (void)std::system(("rm -rf " + dir + " " + rogue).c_str()); }
  std::string operator()(const std::string& f) const { return dir + "/" + f; }
};

TEST_CASE("Real processes: mutual TLS admits certified workers and clients only", "[process][security]") {
  DevCerts certs;
  ServerProcess server(0, {"--tls_cert=" + certs("server.pem"), "--tls_key=" + certs("server.key"),
                           "--tls_client_ca=" + certs("ca.pem")});
  CHECK(server.proc->Log().find("mutual TLS") != std::string::npos);
  // Refused: no client certificate; a certificate from another CA; plaintext.
  auto no_cert = StartWorker(server.port, 1, {"--tls_ca=" + certs("ca.pem")});
  auto rogue = StartWorker(server.port, 2, {"--tls_ca=" + certs("ca.pem"), "--tls_cert=" + certs.rogue + "/worker0.pem",
                                            "--tls_key=" + certs.rogue + "/worker0.key"});
  auto plain = StartWorker(server.port, 3, {"--insecure"});
  // Admitted.
  auto good = StartWorker(server.port, 0, {"--tls_ca=" + certs("ca.pem"), "--tls_cert=" + certs("worker0.pem"),
                                           "--tls_key=" + certs("worker0.key")});
  REQUIRE(good->WaitFor("connected to"));
  for (auto* w : {no_cert.get(), rogue.get(), plain.get()}) REQUIRE(w->WaitFor("reconnecting"));

  SecurityFiles client_files;
  client_files.ca_file = certs("ca.pem");
  client_files.cert_file = certs("client.pem");
  client_files.key_file = certs("client.key");
  auto client = LoadClientSecurity(client_files);
  REQUIRE(client.ok());
  Pcg32 rng(21, 1);
  const Matrix a = RandomUniformMatrix(300, 32, rng), b = RandomUniformMatrix(32, 4, rng);
  Matrix product;
  v1::JobStats stats;
  REQUIRE(Multiply(server.port, a, b, "mds:m=6,n=4", &product, &stats, *client).ok());
  CHECK(RelativeError(product, a.cast<double>() * b.cast<double>()) < 1e-4);
  // Every task went to the certified worker: the others never got one.
  REQUIRE(stats.per_worker_size() == 1);
  CHECK(server.proc->Log().find("(w0") != std::string::npos);
  CHECK(server.proc->Log().find("(w1") == std::string::npos);
  CHECK(server.proc->Log().find("(w2") == std::string::npos);
  CHECK(server.proc->Log().find("(w3") == std::string::npos);

  // Clients without a certificate, or in plaintext, cannot submit jobs.
  SecurityFiles tls_only;
  tls_only.ca_file = certs("ca.pem");
  CHECK_FALSE(Multiply(server.port, a, b, "mds:m=6,n=4", &product, nullptr, *LoadClientSecurity(tls_only),
                       absl::Seconds(3)).ok());
  CHECK_FALSE(Multiply(server.port, a, b, "mds:m=6,n=4", &product, nullptr, PlaintextClient(), absl::Seconds(3)).ok());

  // A TLS worker facing a plaintext server is told so (last: this server's
  // log takes the same file as the one above).
  ServerProcess plaintext;
  auto tls_worker = StartWorker(plaintext.port, 4, {"--tls_ca=" + certs("ca.pem")});
  CHECK(tls_worker->WaitFor("does not answer in TLS: it is probably a plaintext server"));
}

TEST_CASE("Real processes: a token server refuses workers and clients without the token", "[process][security]") {
  DevCerts certs;
  const std::string wrong = TempPath("wrong-token");
  {
    std::ofstream(wrong) << "0123456789abcdef0123456789abcdef\n";
  }
  ServerProcess server(0, {"--insecure", "--token_file=" + certs("token")});
  auto none = StartWorker(server.port, 1);
  auto bad = StartWorker(server.port, 2, {"--token_file=" + wrong});
  auto good = StartWorker(server.port, 0, {"--token_file=" + certs("token")});
  REQUIRE(good->WaitFor("connected to"));
  // Refused workers are told why and stop (retrying cannot help).
  REQUIRE(none->WaitFor("requires a token"));
  REQUIRE(bad->WaitFor("wrong token"));
  CHECK(server.proc->Log().find("refused a worker") != std::string::npos);

  Pcg32 rng(21, 2);
  const Matrix a = RandomUniformMatrix(200, 16, rng), b = RandomUniformMatrix(16, 3, rng);
  Matrix product;
  ClientSecurity without = PlaintextClient();
  CHECK(Multiply(server.port, a, b, "uncoded:k=4", &product, nullptr, without).error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  SecurityFiles with;
  with.insecure = true;
  with.token_file = certs("token");
  v1::JobStats stats;
  REQUIRE(Multiply(server.port, a, b, "uncoded:k=4", &product, &stats, *LoadClientSecurity(with)).ok());
  CHECK(RelativeError(product, a.cast<double>() * b.cast<double>()) < 1e-4);
  REQUIRE(stats.per_worker_size() == 1);  // only the worker with the token
  std::remove(wrong.c_str());
}

TEST_CASE("Real processes: security must be chosen, and bad choices are refused clearly", "[process][security][bad-input]") {
  auto run = [](std::vector<std::string> argv) {
    Process p(argv, TempPath("refused.log"));
    REQUIRE(p.WaitFor("edge-", absl::Seconds(10)));
    absl::SleepFor(absl::Milliseconds(200));
    return p.Log();
  };
  CHECK(run({CODEDGE_EDGE_SERVER, "--listen=127.0.0.1:0"}).find("no transport security chosen") != std::string::npos);
  CHECK(run({CODEDGE_EDGE_WORKER, "--server=127.0.0.1:1"}).find("no transport security chosen") != std::string::npos);
  CHECK(run({CODEDGE_EDGE_SERVER, "--listen=127.0.0.1:0", "--insecure", "--tls_cert=/nonexistent"})
            .find("choose plaintext or TLS") != std::string::npos);
  CHECK(run({CODEDGE_EDGE_SERVER, "--listen=127.0.0.1:0", "--tls_cert=/nonexistent", "--tls_key=/nonexistent"})
            .find("cannot open '/nonexistent'") != std::string::npos);
  CHECK(run({CODEDGE_EDGE_WORKER, "--server=127.0.0.1:1", "--insecure", "--token_file=/nonexistent"})
            .find("--token_file: cannot open") != std::string::npos);
  // Files that are not PEM are refused at start, naming the flag (gRPC
  // would take them and fail every connection later, forever).
  const std::string garbage = TempPath("garbage.pem");
  std::ofstream(garbage) << "not a certificate\n";
  CHECK(run({CODEDGE_EDGE_WORKER, "--server=127.0.0.1:1", "--tls_ca=" + garbage}).find("--tls_ca: '" + garbage +
                                                                                        "' holds no PEM certificate") !=
        std::string::npos);
  CHECK(run({CODEDGE_EDGE_SERVER, "--listen=127.0.0.1:0", "--tls_cert=" + garbage, "--tls_key=" + garbage})
            .find("--tls_cert: '" + garbage + "' holds no PEM certificate") != std::string::npos);
  CHECK(run({CODEDGE_EDGE_SERVER, "--listen=127.0.0.1:0", "--tls_cert=" + garbage}).find("go together") !=
        std::string::npos);
  std::remove(garbage.c_str());
  // Addresses gRPC would bend or retry forever.
  CHECK(run({CODEDGE_EDGE_SERVER, "--listen=127.0.0.1:99999", "--insecure"}).find("the port must be in [0, 65535]") !=
        std::string::npos);
  CHECK(run({CODEDGE_EDGE_WORKER, "--server=127.0.0.1", "--insecure"}).find("--server: '127.0.0.1' is not HOST:PORT") !=
        std::string::npos);
}

TEST_CASE("Real processes: edge-server train refuses bad settings at once and stops on a signal", "[process][train][bad-input]") {
  auto refused = [](std::vector<std::string> extra, const std::string& why) {
    std::vector<std::string> argv{CODEDGE_EDGE_SERVER, "train", "--insecure", "--listen=127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Process p(argv, TempPath("train-refused.log"));
    CHECK(p.WaitExit(absl::Seconds(10)) == 2);  // not after the 2 minutes it waits for workers
    INFO(p.Log());
    CHECK(p.Log().find(why) != std::string::npos);
  };
  refused({"--strategy=mds:m=5,n=10"}, "MDS needs m >= n");
  refused({"--strategy=lt:c=-1"}, "LT c must be > 0");
  refused({"--workers=0"}, "--workers must be >= 1");
  refused({"--wait_workers=0s"}, "--wait_workers must be > 0");
  refused({"--batch=0"}, "--batch must be >= 1, got 0");
  refused({"--max_batches=-1"}, "--max_batches must be >= 0");
  refused({"--lr=nan"}, "learning rate");
  refused({"--weights=/nonexistent-dir/w.bin"}, "--weights: cannot write");

  {  // a signal while it waits for workers
    Process p({CODEDGE_EDGE_SERVER, "train", "--insecure", "--listen=127.0.0.1:0", "--workers=2"},
              TempPath("train-wait.log"));
    REQUIRE(p.WaitFor("waiting for 2 worker(s)"));
    p.Signal(SIGTERM);
    CHECK(p.WaitExit(absl::Seconds(10)) == 128 + SIGTERM);
    CHECK(p.Log().find("stopped while waiting for workers") != std::string::npos);
  }
  if (!std::ifstream("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist is not installed; the training part is skipped");
    return;
  }
  // A signal mid-training: the batch in progress ends, a checkpoint of the
  // position is written, and the exit code says which signal.
  const std::string ckpt = TempPath("train-stop.ckpt");
  std::remove(ckpt.c_str());
  Process p({CODEDGE_EDGE_SERVER, "train", "--insecure", "--listen=127.0.0.1:0", "--workers=1", "--strategy=uncoded:k=2",
             "--train_limit=5000", "--test_limit=100", "--checkpoint=" + ckpt},
            TempPath("train-stop.log"));
  REQUIRE(p.WaitFor("waiting for 1 worker(s) on port "));
  const std::string log = p.Log();
  const int port = std::stoi(log.substr(log.find("on port ") + 8));
  auto worker = StartWorker(port, 0);
  REQUIRE(p.WaitFor("epoch 1 batch", absl::Seconds(60)));
  p.Signal(SIGINT);
  CHECK(p.WaitExit(absl::Seconds(20)) == 128 + SIGINT);
  INFO(p.Log());
  CHECK(p.Log().find("--resume continues from there") != std::string::npos);
  CHECK(std::ifstream(ckpt).good());
  // A checkpoint that cannot continue the run asked for is refused before
  // the server waits for workers (none come here).
  refused({"--workers=1", "--strategy=uncoded:k=2", "--train_limit=5000", "--test_limit=100", "--resume",
           "--checkpoint=" + ckpt, "--max_batches=5"},
          "written by a run with");
  const std::string junk = TempPath("train-junk.ckpt");
  std::ofstream(junk) << "not a checkpoint\n";
  Process j({CODEDGE_EDGE_SERVER, "train", "--insecure", "--listen=127.0.0.1:0", "--workers=1", "--train_limit=5000",
             "--test_limit=100", "--resume", "--checkpoint=" + junk},
            TempPath("train-junk.log"));
  CHECK(j.WaitExit(absl::Seconds(10)) == 1);
  INFO(j.Log());
  CHECK(j.Log().find("not a codedge weights file") != std::string::npos);
  std::remove(junk.c_str());
  std::remove(ckpt.c_str());
}

}  // namespace
}  // namespace codedge
