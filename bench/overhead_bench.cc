#include "bench/overhead_bench.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/json.h"
#include "bench/in_process_cluster.h"
#include "bench/stats.h"
#include "common/linalg.h"
#include "common/logging.h"
#include "common/matrix_util.h"
#include "common/status.h"
#include "codes/factory.h"
#include "codes/verify.h"
#include "proto/wire.h"
#include "server/edge_server.h"
#include "worker/client.h"

namespace codedge::bench {
namespace {


// Raw TCP on loopback: 256 MiB in 1 MiB writes, reader in another thread.
absl::StatusOr<double> LoopbackThroughput() {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 1) != 0 || getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (listener >= 0) close(listener);
    return absl::UnavailableError("cannot open a loopback socket");
  }
  const int64_t total = int64_t{256} << 20, chunk = int64_t{1} << 20;
  int64_t received = 0;
  std::thread reader([&] {
    const int fd = accept(listener, nullptr, nullptr);
    std::vector<char> buf(chunk);
    for (ssize_t n; fd >= 0 && (n = read(fd, buf.data(), buf.size())) > 0;) received += n;
    if (fd >= 0) close(fd);
  });
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    shutdown(listener, SHUT_RDWR);
    reader.join();
    close(listener);
    return absl::UnavailableError("cannot connect on loopback");
  }
  std::vector<char> buf(chunk, 'x');
  const auto start = SteadyClock::now();
  for (int64_t sent = 0; sent < total;) {
    const ssize_t n = write(fd, buf.data(), buf.size());
    if (n <= 0) break;
    sent += n;
  }
  close(fd);
  reader.join();
  const double s = SecondsSince(start);
  close(listener);
  if (received != total) return absl::InternalError(absl::StrCat("loopback test received ", received, " of ", total));
  return static_cast<double>(total) / s;
}

// Submits A·B to the server's pool in process and waits (bounded).
absl::StatusOr<JobResult> RunJob(EdgeServer& server, Matrix a, Matrix b, const CodeSpec& spec) {
  absl::Notification done;
  absl::StatusOr<JobResult> result;
  auto id = server.pool().Submit(std::move(a), std::move(b), spec, [&](absl::StatusOr<JobResult> res) {
    result = std::move(res);
    done.Notify();
  });
  if (!id.ok()) return id.status();
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(120))) {
    return absl::DeadlineExceededError("in-process job did not finish in 120 s");
  }
  return result;
}

}  // namespace

absl::StatusOr<OverheadResult> RunOverheadBench(const OverheadOptions& o) {
  if (o.repeats < 1 || o.rows < 1 || o.inner < 1 || o.cols < 1 || o.e2e_tasks < 1 || o.e2e_workers < 1 ||
      o.dispatch_tasks < 1 || o.dispatch_workers < 1) {
    return absl::InvalidArgumentError("overhead options must be positive");
  }
  SetComputeThreads(1);
  OverheadResult r;
  {
    std::vector<double> t;
    for (int i = 0; i < 3; ++i) {
      auto bps = LoopbackThroughput();
      if (!bps.ok()) return bps.status();
      t.push_back(*bps);
    }
    r.loopback_bytes_per_s = Median(t);
  }
  Pcg32 rng(o.seed, 0x6f76);
  const Matrix a = RandomUniformMatrix(o.rows, o.inner, rng), b = RandomUniformMatrix(o.inner, o.cols, rng);
  const MatrixD exact = a.cast<double>() * b.cast<double>();
  {
    std::vector<double> t;
    Matrix c;
    for (int i = 0; i < o.repeats; ++i) {
      const auto start = SteadyClock::now();
      c.noalias() = a * b;
      t.push_back(SecondsSince(start));
    }
    r.local_product_s = Median(t);
    // The server's optional check of one such result (Freivalds).
    std::vector<double> tv;
    Pcg32 vrng(o.seed, 0x76);
    for (int i = 0; i < o.repeats; ++i) {
      const auto start = SteadyClock::now();
      if (absl::Status s = FreivaldsCheck(a, b, c, vrng); !s.ok()) return s;
      tv.push_back(SecondsSince(start));
    }
    r.verify_s = Median(tv);
  }
  r.e2e_bytes = 4 * (a.size() + b.size() + o.rows * o.cols);
  r.bound_s = static_cast<double>(r.e2e_bytes) / r.loopback_bytes_per_s + r.local_product_s;

  {  // end to end, uncoded, e2e_workers workers
    auto cluster = StartInProcessCluster(o.e2e_workers);
    if (!cluster.ok()) return cluster.status();
    auto stub = Stub((*cluster)->server->port());
    const v1::MultiplyRequest req = MultiplyRequestFor(a, b, absl::StrCat("uncoded:k=", o.e2e_tasks));
    // Verify first, then time.
    auto first = Call(*stub, req);
    if (!first.ok()) return first.status();
    auto got = MatrixFromProto(first->product(), "product");
    if (!got.ok()) return got.status();
    const double err = RelativeError(*got, exact);
    if (!(err < 1e-4)) return absl::InternalError(absl::StrCat("end-to-end product error ", err));
    std::vector<double> t, enc, q, comp, dec, job;
    for (int i = 0; i < o.repeats; ++i) {
      const auto start = SteadyClock::now();
      // Serialising the request is the client's cost: included.
      auto resp = Call(*stub, MultiplyRequestFor(a, b, req.strategy().spec()));
      if (!resp.ok()) return resp.status();
      auto product = MatrixFromProto(resp->product(), "product");
      t.push_back(SecondsSince(start));
      enc.push_back(resp->stats().encode_seconds());
      q.push_back(resp->stats().queue_seconds());
      comp.push_back(resp->stats().compute_seconds());
      dec.push_back(resp->stats().decode_seconds());
      job.push_back(resp->stats().total_seconds());
    }
    r.e2e_s = Median(t);
    r.encode_s = Median(enc);
    r.queue_s = Median(q);
    r.compute_s = Median(comp);
    r.decode_s = Median(dec);
    r.job_s = Median(job);
    Log().info("end to end {}x{} . {}x{} uncoded over {} workers: {:.1f} ms (bound {:.1f} ms)", o.rows, o.inner,
               o.inner, o.cols, o.e2e_workers, 1e3 * r.e2e_s, 1e3 * r.bound_s);

    // The same product submitted to the server's job manager in process, as
    // the CNN trainer does: A crosses the network once (server -> workers).
    ASSIGN_OR_RETURN(CodeSpec spec, ParseCodeSpec(req.strategy().spec()));
    std::vector<double> tin, ienc, icomp;
    for (int i = 0; i < o.repeats; ++i) {
      Matrix ac = a, bc = b;  // the trainer owns its operands: moved in, not timed
      const auto start = SteadyClock::now();
      absl::StatusOr<JobResult> result = RunJob(*(*cluster)->server, std::move(ac), std::move(bc), spec);
      tin.push_back(SecondsSince(start));
      if (!result.ok()) return result.status();
      if (i == 0) {
        const double e = RelativeError(result->product, exact);
        if (!(e < 1e-4)) return absl::InternalError(absl::StrCat("in-process product error ", e));
      }
      ienc.push_back(result->stats.encode_seconds);
      icomp.push_back(result->stats.compute_seconds);
    }
    r.inproc_s = Median(tin);
    r.inproc_encode_s = Median(ienc);
    r.inproc_compute_s = Median(icomp);
    r.inproc_bound_s = static_cast<double>(r.e2e_bytes) / r.loopback_bytes_per_s + r.local_product_s;
    Log().info("in process {}x{} . {}x{} uncoded over {} workers: {:.1f} ms (bound {:.1f} ms)", o.rows, o.inner,
               o.inner, o.cols, o.e2e_workers, 1e3 * r.inproc_s, 1e3 * r.inproc_bound_s);
  }
  {  // bulk: one 64 MiB block to one worker; its transfer time is the job's
     // time minus the worker's own compute (so serialising and parsing count)
    auto cluster = StartInProcessCluster(1);
    if (!cluster.ok()) return cluster.status();
    const int64_t cols = 1024, rows = (o.bulk_bytes / 4) / cols;
    const Matrix big = RandomUniformMatrix(rows, cols, rng), one = RandomUniformMatrix(cols, 1, rng);
    ASSIGN_OR_RETURN(CodeSpec spec, ParseCodeSpec("uncoded:k=1"));
    std::vector<double> rate;
    for (int i = 0; i < o.repeats; ++i) {
      Matrix a = big, b = one;  // the caller's copies, made before the clock starts (as for the in-process job)
      const auto start = SteadyClock::now();
      ASSIGN_OR_RETURN(JobResult res, RunJob(*(*cluster)->server, std::move(a), std::move(b), spec));
      const double s = SecondsSince(start) - res.stats.compute_seconds;
      rate.push_back(static_cast<double>(big.size() * 4) / s);
    }
    r.bulk_bytes = big.size() * 4;
    r.bulk_bytes_per_s = Median(rate);
    Log().info("bulk: {:.0f} MiB block delivered at {:.2f} GB/s (median of {})", r.bulk_bytes / 1048576.0,
               r.bulk_bytes_per_s / 1e9, o.repeats);
  }
  {  // cancel latency: 2-replication over 2 workers; worker 1 starts each
     // task 3 ms late, so the cancel reaches it mid-compute. Small operands,
     // long compute (~80 M multiply-adds): the cancel does not queue behind
     // a task still being transferred.
    auto cluster = StartInProcessCluster(2, [](int i, WorkerOptions& w) {
      if (i == 1) w.delay = DelaySpec{DelaySpec::Kind::kConst, 0.003, 0};
    });
    if (!cluster.ok()) return cluster.status();
    const Matrix ca = RandomUniformMatrix(200, 400, rng), cb = RandomUniformMatrix(400, 1000, rng);
    ASSIGN_OR_RETURN(CodeSpec spec, ParseCodeSpec("replication:k=1,copies=2"));
    absl::Notification never;
    for (int i = 0; i < o.cancel_jobs; ++i) {
      ASSIGN_OR_RETURN(JobResult res, RunJob(*(*cluster)->server, ca, cb, spec));
      // Let the loser go idle before the next job: on this 2-core machine the
      // next job's transfer and compute would otherwise compete with it for
      // the CPU (on real devices each worker has its own).
      never.WaitForNotificationWithTimeout(absl::Milliseconds(20));
    }
    never.WaitForNotificationWithTimeout(absl::Milliseconds(200));  // the last loser may still be unwinding
    std::vector<double> lat;
    for (auto& c : (*cluster)->clients) {
      auto l = c->cancel_latencies();
      lat.insert(lat.end(), l.begin(), l.end());
    }
    if (lat.empty()) return absl::InternalError("no cancel latency was recorded");
    r.cancels = static_cast<int64_t>(lat.size());
    r.cancel_p50_s = Quantile(lat, 0.5);
    r.cancel_p99_s = Quantile(lat, 0.99);
    r.cancel_max_s = *std::max_element(lat.begin(), lat.end());
    Log().info("cancel: {} cancels, p50 {:.2f} ms, p99 {:.2f} ms", r.cancels, 1e3 * r.cancel_p50_s,
               1e3 * r.cancel_p99_s);
  }
  {  // dispatch: tiny tasks (one row each) through dispatch_workers workers
    auto cluster = StartInProcessCluster(o.dispatch_workers);
    if (!cluster.ok()) return cluster.status();
    auto stub = Stub((*cluster)->server->port());
    const Matrix ta = RandomUniformMatrix(o.dispatch_tasks, 1, rng), tb = RandomUniformMatrix(1, 1, rng);
    const v1::MultiplyRequest req = MultiplyRequestFor(ta, tb, absl::StrCat("uncoded:k=", o.dispatch_tasks));
    const auto start = SteadyClock::now();
    auto resp = Call(*stub, req);
    if (!resp.ok()) return resp.status();
    const double s = SecondsSince(start);
    auto got = MatrixFromProto(resp->product(), "product");
    if (!got.ok()) return got.status();
    if (!(RelativeError(*got, ta.cast<double>() * tb.cast<double>()) < 1e-6)) {
      return absl::InternalError("dispatch product wrong");
    }
    r.dispatch_tasks = o.dispatch_tasks;
    r.dispatch_tasks_per_s = static_cast<double>(o.dispatch_tasks) / s;
    Log().info("dispatch: {} one-row tasks through {} workers in {:.2f} s", o.dispatch_tasks, o.dispatch_workers, s);
  }
  return r;
}

void PrintOverheadTable(const OverheadResult& r, const OverheadOptions& o, std::ostream& out) {
  out << absl::StrFormat("loopback TCP bulk throughput      %8.2f GB/s (256 MiB, median of 3)\n",
                         r.loopback_bytes_per_s / 1e9);
  out << absl::StrFormat("local single-thread product       %8.2f ms   (%dx%d . %dx%d)\n", 1e3 * r.local_product_s,
                         o.rows, o.inner, o.inner, o.cols);
  out << absl::StrFormat("Freivalds check of that product      %8.2f ms   = %.2fx the product (--verify_results)\n",
                         1e3 * r.verify_s, r.verify_s / r.local_product_s);
  out << absl::StrFormat("bound: %.1f MB / throughput + product = %8.2f ms\n", r.e2e_bytes / 1e6, 1e3 * r.bound_s);
  out << absl::StrFormat("end to end, uncoded k=%d, %d workers  %8.2f ms   = %.2fx the bound (median of %d)\n",
                         o.e2e_tasks, o.e2e_workers, 1e3 * r.e2e_s, r.e2e_s / r.bound_s, o.repeats);
  out << absl::StrFormat("  job breakdown: encode %.2f ms, queue %.2f ms, worker compute %.2f ms (summed), decode %.2f ms\n",
                         1e3 * r.encode_s, 1e3 * r.queue_s, 1e3 * r.compute_s, 1e3 * r.decode_s);
  out << absl::StrFormat("  job in the server (submit -> done) %.2f ms; the rest is the request and reply crossing the RPC\n",
                         1e3 * r.job_s);
  out << absl::StrFormat("in process (job manager), same product %8.2f ms   = %.2fx the bound (median of %d)\n",
                         1e3 * r.inproc_s, r.inproc_s / r.inproc_bound_s, o.repeats);
  out << absl::StrFormat("  job breakdown: encode %.2f ms, worker compute %.2f ms (summed)\n", 1e3 * r.inproc_encode_s,
                         1e3 * r.inproc_compute_s);
  out << absl::StrFormat("bulk: a %.0f MiB block reaches a worker  %8.2f GB/s (job time minus compute, median of %d)\n",
                         r.bulk_bytes / 1048576.0, r.bulk_bytes_per_s / 1e9, o.repeats);
  out << absl::StrFormat("cancel latency (sent -> worker idle), %d cancels: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                         r.cancels, 1e3 * r.cancel_p50_s, 1e3 * r.cancel_p99_s, 1e3 * r.cancel_max_s);
  out << absl::StrFormat("dispatch: %d one-row tasks, %d workers  %8.0f tasks/s\n", r.dispatch_tasks,
                         o.dispatch_workers, r.dispatch_tasks_per_s);
}

std::string OverheadJson(const OverheadResult& r) {
  JsonWriter w;
  w.BeginObject()
      .Key("loopback_bytes_per_s").Number(r.loopback_bytes_per_s)
      .Key("local_product_s").Number(r.local_product_s)
      .Key("verify_s").Number(r.verify_s)
      .Key("e2e_s").Number(r.e2e_s)
      .Key("bound_s").Number(r.bound_s)
      .Key("encode_s").Number(r.encode_s)
      .Key("queue_s").Number(r.queue_s)
      .Key("compute_s").Number(r.compute_s)
      .Key("decode_s").Number(r.decode_s)
      .Key("inproc_s").Number(r.inproc_s)
      .Key("inproc_encode_s").Number(r.inproc_encode_s)
      .Key("inproc_compute_s").Number(r.inproc_compute_s)
      .Key("bulk_bytes_per_s").Number(r.bulk_bytes_per_s)
      .Key("cancel_p50_s").Number(r.cancel_p50_s)
      .Key("cancel_p99_s").Number(r.cancel_p99_s)
      .Key("dispatch_tasks_per_s").Number(r.dispatch_tasks_per_s)
      .EndObject();
  return w.str() + "\n";
}

}  // namespace codedge::bench
