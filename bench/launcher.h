// A local straggling cluster of real processes: one edge-server and N
// edge-worker daemons on loopback, each worker with its own flags (delays,
// slowdown, emulated speed) and optionally a real CPU quota (cgroup v1 or v2
// CPU controller, when running as root).
//
// Nothing outlives the launcher: children get SIGKILL if the launching
// process dies for any reason (PR_SET_PDEATHSIG, also on Ctrl-C or a crash),
// and the destructor stops them (SIGTERM, then SIGKILL after a grace
// period) and removes the cgroups it made. Logs go to one file per process
// under `log_dir`.
#ifndef CODEDGE_BENCH_LAUNCHER_H_
#define CODEDGE_BENCH_LAUNCHER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace codedge::bench {

struct WorkerLaunch {
  std::vector<std::string> args;  // extra edge-worker flags, e.g. "--delay=const:0.2"
  double cpu_quota = 0;           // fraction of one core (0: no quota)
  // The cgroup's accounting period: the quota is spent in bursts of
  // cpu_quota * period. Short products want a short period (a 100 ms one
  // stalls a 5 ms product for up to 85 ms); at least 10 ms.
  absl::Duration cpu_period = absl::Milliseconds(100);
};

struct LaunchOptions {
  std::string server_binary;      // empty: found beside this executable (see FindBinary)
  std::string worker_binary;
  std::vector<std::string> server_args;
  std::string server_address;     // non-empty: workers join this running server (none is spawned)
  std::string log_dir;            // empty: /tmp/codedge-cluster-PID
  absl::Duration start_timeout = absl::Seconds(20);
};

// The directory of a sibling binary: next to the running executable (an
// installed bin/), or in the build tree (build/bench/edge-bench next to
// build/server/edge-server). NotFound with the places tried.
absl::StatusOr<std::string> FindBinary(const std::string& name);

class LocalCluster {
 public:
  // Starts the server, then the workers, and waits until every worker is
  // connected (ClusterStatus). Everything started is torn down on failure.
  // Call it from a thread that lives as long as the cluster (the main
  // thread): the children's death signal follows the thread that forked.
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Start(const LaunchOptions& options,
                                                             const std::vector<WorkerLaunch>& workers);
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  std::string address() const { return external_.empty() ? absl::StrCat("127.0.0.1:", port_) : external_; }
  int port() const { return port_; }
  const std::string& log_dir() const { return log_dir_; }
  // Whether CPU quotas were asked for and applied (false: unavailable, said
  // once in the log; workers with a quota F < 1 then get --slowdown 1/F).
  bool quotas_applied() const { return quotas_applied_; }
  // Stops everything now (also done by the destructor).
  void Stop();

 private:
  LocalCluster() = default;
  struct Child {
    pid_t pid = -1;
    std::string name, log, cgroup;
  };
  absl::StatusOr<Child> Spawn(const std::string& binary, std::vector<std::string> args, const std::string& name);
  // Spawns the server and waits (until `deadline`) for the port it prints.
  absl::Status StartServer(const std::string& binary, const LaunchOptions& options, absl::Time deadline);

  std::vector<Child> children_;  // [0] is the server (pid -1 when external)
  std::string external_;
  std::string log_dir_;
  int port_ = 0;
  bool quotas_applied_ = false;
};

// Whether this process can set CPU quotas (root and a cgroup CPU
// controller); the reason if not.
absl::Status CpuQuotaSupport();

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_LAUNCHER_H_
