#include "bench/status.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/codedge.grpc.pb.h"

namespace codedge::bench {

absl::StatusOr<v1::ClusterStatusResponse> FetchClusterStatus(const std::string& server, const ClientSecurity& security,
                                                             absl::Duration timeout) {
  grpc::ChannelArguments args;
  security.Apply(&args);
  auto stub = v1::Compute::NewStub(grpc::CreateCustomChannel(server, security.credentials, args));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  security.Apply(&ctx);
  v1::ClusterStatusRequest req;
  v1::ClusterStatusResponse resp;
  if (grpc::Status st = stub->ClusterStatus(&ctx, req, &resp); !st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()), absl::StrCat(server, ": ", st.error_message()));
  }
  return resp;
}

void PrintClusterStatus(const v1::ClusterStatusResponse& status, const std::string& server, absl::Time now,
                        std::ostream& out) {
  out << absl::StrFormat("%s: %d workers, %d jobs in flight\n", server, status.workers_size(), status.jobs_in_flight());
  out << absl::StrFormat("%6s  %-20s %8s %10s %12s %14s  %s\n", "id", "name", "credits", "tasks done", "GMAC/s",
                         "last seen", "state");
  const int64_t now_us = absl::ToUnixMicros(now);
  for (const auto& w : status.workers()) {
    out << absl::StrFormat("%6d  %-20s %8d %10d %12.3f %12.1f s  %s\n", w.worker_id(), w.worker_name(), w.credits(),
                           w.tasks_done(), 1e-9 * w.macs_per_second(),
                           1e-6 * static_cast<double>(now_us - w.last_seen_unix_micros()),
                           w.faulty() ? "faulty (no tasks)" : w.draining() ? "draining (no tasks)" : "ok");
  }
}

}  // namespace codedge::bench
