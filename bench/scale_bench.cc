#include "bench/scale_bench.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "bench/json.h"
#include "bench/in_process_cluster.h"
#include "bench/stats.h"
#include "common/logging.h"
#include "common/matrix_util.h"
#include "common/status.h"
#include "proto/wire.h"

namespace codedge::bench {
namespace {

double ResidentMiB() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

absl::Status CheckProduct(const v1::MultiplyResponse& resp, const MatrixD& exact, absl::string_view what) {
  auto p = MatrixFromProto(resp.product(), "product");
  if (!p.ok()) return p.status();
  if (!(RelativeError(*p, exact) < 1e-5)) return absl::InternalError(absl::StrCat(what, ": wrong product"));
  return absl::OkStatus();
}

absl::StatusOr<ScalePoint> MeasurePoint(const ScaleOptions& o, int servers, int workers) {
  ScalePoint pt;
  pt.servers = servers;
  pt.workers = workers;
  const int per_server = workers / servers;
  const double rss_before = ResidentMiB();
  const auto start = SteadyClock::now();
  std::vector<std::unique_ptr<InProcessCluster>> cells;
  std::vector<std::thread> starters;
  std::vector<absl::StatusOr<std::unique_ptr<InProcessCluster>>> started;
  for (int s = 0; s < servers; ++s) started.emplace_back(absl::UnknownError("unset"));
  for (int s = 0; s < servers; ++s) {
    starters.emplace_back([&, s] {
      started[s] = StartInProcessCluster(
          per_server, [&](int i, WorkerOptions& w) { w.name = absl::StrCat("cell", s, "-w", i); },
          absl::Seconds(60));
    });
  }
  for (auto& t : starters) t.join();
  for (auto& c : started) {
    if (!c.ok()) return c.status();
    cells.push_back(*std::move(c));
  }
  pt.connect_s = SecondsSince(start);
  pt.rss_mb_per_worker = (ResidentMiB() - rss_before) / workers;
  Log().info("scale: {} server(s), {} workers connected in {:.2f} s", servers, workers, pt.connect_s);
  std::vector<std::unique_ptr<v1::Compute::Stub>> stubs;
  for (auto& c : cells) stubs.push_back(Stub(c->server->port()));

  // Dispatch: one 16-row task per worker of the server a job goes to.
  Pcg32 rng(o.seed, static_cast<uint64_t>(workers));
  const Matrix ta = RandomUniformMatrix(int64_t{16} * per_server, 32, rng), tb = RandomUniformMatrix(32, 4, rng);
  const MatrixD texact = ta.cast<double>() * tb.cast<double>();
  const v1::MultiplyRequest treq = MultiplyRequestFor(ta, tb, absl::StrCat("uncoded:k=", per_server));
  std::atomic<int64_t> jobs{0};
  absl::Mutex mu;
  absl::Status failed;
  const auto dstart = SteadyClock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < o.concurrency; ++c) {
    clients.emplace_back([&, c] {
      v1::Compute::Stub& stub = *stubs[c % servers];
      while (SecondsSince(dstart) < o.seconds) {
        absl::StatusOr<v1::MultiplyResponse> r = Call(stub, treq);
        absl::Status s = r.ok() ? CheckProduct(*r, texact, "dispatch") : r.status();
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          failed = s;
          return;
        }
        jobs++;
      }
    });
  }
  for (auto& t : clients) t.join();
  RETURN_IF_ERROR(failed);
  const double dseconds = SecondsSince(dstart);
  pt.jobs = jobs.load();
  pt.jobs_per_s = static_cast<double>(pt.jobs) / dseconds;
  pt.tasks_per_s = pt.jobs_per_s * per_server;

  // Bulk: bulk_mb MiB of A (1024 columns) split evenly over the servers,
  // each part uncoded over that server's workers.
  const int64_t cols = 1024;
  const int64_t rows = std::max<int64_t>(servers, o.bulk_mb * (1 << 20) / (cols * 4) / servers);
  const Matrix ba = RandomUniformMatrix(rows, cols, rng), bb = RandomUniformMatrix(cols, 1, rng);
  const MatrixD bexact = ba.cast<double>() * bb.cast<double>();
  const v1::MultiplyRequest breq = MultiplyRequestFor(ba, bb, absl::StrCat("uncoded:k=", std::min<int64_t>(per_server, rows)));
  std::vector<double> times;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<std::thread> parts;
    std::vector<absl::Status> status(servers);
    const auto bstart = SteadyClock::now();
    for (int s = 0; s < servers; ++s) {
      parts.emplace_back([&, s] {
        absl::StatusOr<v1::MultiplyResponse> r = Call(*stubs[s], breq);
        status[s] = r.ok() ? CheckProduct(*r, bexact, "bulk") : r.status();
      });
    }
    for (auto& t : parts) t.join();
    times.push_back(SecondsSince(bstart));
    for (const absl::Status& s : status) RETURN_IF_ERROR(s);
  }
  pt.bulk_bytes_per_s = static_cast<double>(rows * cols * 4 * servers) / Median(times);
  Log().info("scale: {} server(s), {} workers: {:.0f} tasks/s, bulk {:.2f} GB/s", servers, workers, pt.tasks_per_s,
             1e-9 * pt.bulk_bytes_per_s);
  return pt;
}

}  // namespace

absl::StatusOr<ScaleResult> RunScaleBench(const ScaleOptions& o) {
  if (o.workers.empty() || o.cells < 1 || o.concurrency < 1 || !(o.seconds > 0) || o.bulk_mb < 1) {
    return absl::InvalidArgumentError("scale needs worker counts, --cells >= 1, concurrency >= 1, seconds > 0, bulk >= 1 MiB");
  }
  for (int w : o.workers) {
    if (w < 1 || w > 5000) return absl::InvalidArgumentError(absl::StrCat("worker count ", w, " outside 1..5000"));
  }
  const int largest = *std::max_element(o.workers.begin(), o.workers.end());
  if (o.cells > 1 && largest < o.cells) {
    return absl::InvalidArgumentError(absl::StrCat(largest, " workers cannot be split over ", o.cells, " servers"));
  }
  ScaleResult r;
  for (int w : o.workers) {
    ASSIGN_OR_RETURN(ScalePoint p, MeasurePoint(o, 1, w));
    r.points.push_back(p);
  }
  if (o.cells > 1) {
    ASSIGN_OR_RETURN(ScalePoint p, MeasurePoint(o, o.cells, largest - largest % o.cells));
    r.points.push_back(p);
  }
  return r;
}

void PrintScaleTable(const ScaleResult& r, const ScaleOptions& o, std::ostream& out) {
  out << absl::StrFormat("One edge server's limits on this machine (%d cores), in process on loopback;\n",
                         static_cast<int>(std::thread::hardware_concurrency()));
  out << absl::StrFormat("dispatch: %d jobs in flight, one 16x32 task per worker per job, %.0f s per point\n",
                         o.concurrency, o.seconds);
  out << absl::StrFormat("%8s %8s %11s %12s %12s %14s %14s\n", "servers", "workers", "connect s", "jobs/s",
                         "tasks/s", "bulk GB/s", "RSS MiB/wkr");
  for (const ScalePoint& p : r.points) {
    out << absl::StrFormat("%8d %8d %11.2f %12.0f %12.0f %14.2f %14.2f\n", p.servers, p.workers, p.connect_s,
                           p.jobs_per_s, p.tasks_per_s, 1e-9 * p.bulk_bytes_per_s, p.rss_mb_per_worker);
  }
}

std::string ScaleJson(const ScaleResult& r) {
  JsonWriter w;
  w.BeginObject().Key("points").BeginArray();
  for (const ScalePoint& p : r.points) {
    w.BeginObject()
        .Key("servers").Int(p.servers)
        .Key("workers").Int(p.workers)
        .Key("connect_s").Number(p.connect_s)
        .Key("jobs").Int(p.jobs)
        .Key("jobs_per_s").Number(p.jobs_per_s)
        .Key("tasks_per_s").Number(p.tasks_per_s)
        .Key("bulk_bytes_per_s").Number(p.bulk_bytes_per_s)
        .Key("rss_mb_per_worker").Number(p.rss_mb_per_worker)
        .EndObject();
  }
  w.EndArray().EndObject();
  return w.str() + "\n";
}

}  // namespace codedge::bench
