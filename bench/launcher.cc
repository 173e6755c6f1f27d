#include "bench/launcher.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "proto/codedge.grpc.pb.h"

namespace codedge::bench {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.flush();
  return static_cast<bool>(f);
}

void Pause(absl::Duration d) {
  absl::Notification never;
  never.WaitForNotificationWithTimeout(d);
}

// cgroup v1 (a "cpu" hierarchy) or v2 (the unified tree with "cpu" enabled).
struct CgroupRoot {
  std::string dir;
  bool v2 = false;
};

absl::StatusOr<CgroupRoot> FindCgroupRoot() {
  if (geteuid() != 0) return absl::PermissionDeniedError("CPU quotas need root (cgroups)");
  if (fs::exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")) return CgroupRoot{"/sys/fs/cgroup/cpu", false};
  if (ReadFile("/sys/fs/cgroup/cgroup.subtree_control").find("cpu") != std::string::npos) {
    return CgroupRoot{"/sys/fs/cgroup", true};
  }
  return absl::UnavailableError("no cgroup CPU controller (neither /sys/fs/cgroup/cpu nor cpu in cgroup v2)");
}

// Removes our cgroups left behind by a launcher that was killed (its
// children died with it, so the groups are empty; rmdir fails otherwise).
void RemoveStaleCgroups(const CgroupRoot& root) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root.dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind("codedge-", 0) == 0 && ReadFile(e.path() / "cgroup.procs").empty()) {
      rmdir(e.path().c_str());
    }
  }
}

}  // namespace

absl::Status CpuQuotaSupport() { return FindCgroupRoot().status(); }

absl::StatusOr<std::string> FindBinary(const std::string& name) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> tried;
  if (!ec) {
    const fs::path dir = self.parent_path();
    const std::string sub = name == "edge-server" ? "server" : "worker";
    tried = {dir / name, dir.parent_path() / sub / name};
  }
  for (const fs::path& p : tried) {
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  std::string where;
  for (const fs::path& p : tried) absl::StrAppend(&where, where.empty() ? "" : ", ", p.string());
  return absl::NotFoundError(absl::StrCat("cannot find ", name, " (tried ", where, "); pass its path"));
}

absl::StatusOr<LocalCluster::Child> LocalCluster::Spawn(const std::string& binary, std::vector<std::string> args,
                                                        const std::string& name) {
  Child c;
  c.name = name;
  c.log = absl::StrCat(log_dir_, "/", name, ".log");
  args.insert(args.begin(), binary);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int fd = open(c.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot write ", c.log));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {  // child: async-signal-safe calls only, then exec
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the launcher died before prctl
    dup2(fd, 1);
    dup2(fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fd);
  c.pid = pid;
  return c;
}

absl::Status LocalCluster::StartServer(const std::string& binary, const LaunchOptions& options, absl::Time deadline) {
  // On a free port it prints.
  std::vector<std::string> args = {"--listen=127.0.0.1:0", "--insecure"};  // loopback only
  args.insert(args.end(), options.server_args.begin(), options.server_args.end());
  absl::StatusOr<Child> server = Spawn(binary, args, "server");
  if (!server.ok()) return server.status();
  children_.push_back(*server);
  for (;;) {
    const std::string log = ReadFile(server->log);
    if (const size_t at = log.find("listening on port "); at != std::string::npos) {
      port_ = std::atoi(log.c_str() + at + 18);
      if (port_ > 0) return absl::OkStatus();
    }
    int status;
    if (waitpid(server->pid, &status, WNOHANG) == server->pid) {
      children_[0].pid = -1;
      return absl::InternalError(absl::StrCat("edge-server exited at start; see ", server->log));
    }
    if (absl::Now() > deadline) return absl::DeadlineExceededError(absl::StrCat("edge-server did not start; see ", server->log));
    Pause(absl::Milliseconds(10));
  }
}

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Start(const LaunchOptions& options,
                                                                  const std::vector<WorkerLaunch>& workers) {
  std::unique_ptr<LocalCluster> c(new LocalCluster());
  c->log_dir_ = options.log_dir.empty() ? absl::StrCat("/tmp/codedge-cluster-", getpid()) : options.log_dir;
  std::error_code ec;
  fs::create_directories(c->log_dir_, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", c->log_dir_, ": ", ec.message()));
  std::string server_bin = options.server_binary, worker_bin = options.worker_binary;
  if (server_bin.empty() && options.server_address.empty()) {
    auto b = FindBinary("edge-server");
    if (!b.ok()) return b.status();
    server_bin = *b;
  }
  if (worker_bin.empty()) {
    auto b = FindBinary("edge-worker");
    if (!b.ok()) return b.status();
    worker_bin = *b;
  }

  const absl::Time deadline = absl::Now() + options.start_timeout;
  if (!options.server_address.empty()) {
    c->external_ = options.server_address;
    c->children_.push_back(Child{-1, "server", "", ""});  // [0] is the server, not ours
  } else {
    RETURN_IF_ERROR(c->StartServer(server_bin, options, deadline));
  }

  // Quotas: asked for by any worker; applied if the OS allows it.
  bool want_quotas = false;
  for (const auto& w : workers) want_quotas |= w.cpu_quota > 0;
  absl::StatusOr<CgroupRoot> cg = absl::UnavailableError("not asked");
  if (want_quotas) {
    cg = FindCgroupRoot();
    if (!cg.ok()) {
      Log().warn("CPU quotas unavailable ({}); falling back to --slowdown 1/quota (waits instead of a slower CPU)",
                 std::string(cg.status().message()));
    }
    if (cg.ok()) RemoveStaleCgroups(*cg);
    c->quotas_applied_ = cg.ok();
  }
  for (size_t i = 0; i < workers.size(); ++i) {
    std::vector<std::string> wargs = {absl::StrCat("--server=", c->address()), absl::StrCat("--name=w", i),
                                      absl::StrCat("--seed=", i + 1), "--insecure"};
    wargs.insert(wargs.end(), workers[i].args.begin(), workers[i].args.end());
    if (!cg.ok() && workers[i].cpu_quota > 0 && workers[i].cpu_quota < 1) {
      wargs.push_back(absl::StrCat("--slowdown=", 1.0 / workers[i].cpu_quota));  // the fallback
    }
    auto w = c->Spawn(worker_bin, wargs, absl::StrCat("worker-", i));
    if (!w.ok()) return w.status();
    if (cg.ok() && workers[i].cpu_quota > 0) {
      const std::string dir = absl::StrCat(cg->dir, "/codedge-", getpid(), "-w", i);
      fs::create_directories(dir, ec);
      // The kernel wants a quota of at least 1 ms: a small fraction gets a
      // longer period rather than a larger share.
      const int64_t period = std::max<int64_t>({10000, absl::ToInt64Microseconds(workers[i].cpu_period),
                                                static_cast<int64_t>(std::ceil(1000.0 / workers[i].cpu_quota))});
      const int64_t quota = std::max<int64_t>(1000, std::llround(workers[i].cpu_quota * static_cast<double>(period)));
      const bool ok = !ec && (cg->v2 ? WriteFile(dir + "/cpu.max", absl::StrCat(quota, " ", period))
                                     : WriteFile(dir + "/cpu.cfs_period_us", absl::StrCat(period)) &&
                                           WriteFile(dir + "/cpu.cfs_quota_us", absl::StrCat(quota))) &&
                      WriteFile(dir + "/cgroup.procs", absl::StrCat(w->pid));
      if (ok) {
        w->cgroup = dir;
      } else {
        Log().warn("worker {}: could not apply a CPU quota in {}", i, dir);
        c->quotas_applied_ = false;
      }
    }
    c->children_.push_back(*w);
  }

  // Every worker connected?
  auto stub = v1::Compute::NewStub(grpc::CreateChannel(c->address(), grpc::InsecureChannelCredentials()));
  for (;;) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    v1::ClusterStatusRequest req;
    v1::ClusterStatusResponse resp;
    if (stub->ClusterStatus(&ctx, req, &resp).ok() && resp.workers_size() >= static_cast<int>(workers.size())) break;
    for (size_t i = 1; i < c->children_.size(); ++i) {
      int status;
      if (c->children_[i].pid > 0 && waitpid(c->children_[i].pid, &status, WNOHANG) == c->children_[i].pid) {
        c->children_[i].pid = -1;
        return absl::InternalError(absl::StrCat(c->children_[i].name, " exited at start; see ", c->children_[i].log));
      }
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("workers did not all connect within ",
                                                      absl::FormatDuration(options.start_timeout), "; logs in ",
                                                      c->log_dir_));
    }
    Pause(absl::Milliseconds(20));
  }
  Log().debug("local cluster up: server {} and {} workers, logs in {}", c->address(), workers.size(), c->log_dir_);
  return c;
}

void LocalCluster::Stop() {
  // Workers first (they would only reconnect), then the server.
  for (size_t i = children_.size(); i-- > 0;) {
    if (children_[i].pid > 0) kill(children_[i].pid, SIGTERM);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  for (auto& c : children_) {
    while (c.pid > 0) {
      int status;
      const pid_t r = waitpid(c.pid, &status, WNOHANG);
      if (r == c.pid || r < 0) {
        c.pid = -1;
        break;
      }
      if (absl::Now() > deadline) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, &status, 0);
        c.pid = -1;
        break;
      }
      Pause(absl::Milliseconds(5));
    }
    if (!c.cgroup.empty()) {
      rmdir(c.cgroup.c_str());
      c.cgroup.clear();
    }
  }
}

LocalCluster::~LocalCluster() { Stop(); }

}  // namespace codedge::bench
