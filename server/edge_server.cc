#include "server/edge_server.h"

#include "absl/strings/str_cat.h"
#include "common/address.h"
#include "common/logging.h"
#include "common/status.h"

namespace codedge {

absl::StatusOr<std::unique_ptr<EdgeServer>> EdgeServer::Start(const EdgeServerOptions& options) {
  RETURN_IF_ERROR(CheckHostPort(options.address, "--listen", /*listen=*/true));
  std::unique_ptr<EdgeServer> s(new EdgeServer(options));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, options.security.credentials, &s->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // Liveness: HTTP/2 pings find a worker whose host vanished without closing
  // its TCP connection (power loss, network partition) within ~20 s.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 20);
  // gRPC binds with SO_REUSEPORT by default: a second edge-server on a
  // taken port started and the kernel split the workers between the two.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterCallbackGenericService(&s->workers_);
  builder.RegisterService(&s->compute_);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    const std::string why = WhyCannotListen(options.address);
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.address, ": ",
        !why.empty() ? why
                     : absl::StrCat("see gRPC's message above",
                                    options.security.plaintext ? "" : " (does --tls_key belong to --tls_cert?)")));
  }
  s->pool_.SetVerifyResults(options.verify_results);
  s->pool_.SetWorkHook([p = s.get()] { p->workers_.Kick(); });
  s->pool_.SetCancelHook([p = s.get()](const std::vector<CancelOrder>& c) { p->workers_.Deliver(c); });
  s->sweeper_ = std::thread([p = s.get()] { p->Sweep(); });
  Log().info("edge-server listening on port {} ({})", s->port_, options.security.Describe());
  if (options.security.plaintext) {
    Log().warn("plaintext transport: anyone on the network can read the matrices{}",
               options.security.token.empty() ? " and join as a worker or submit jobs" : " and the token");
  }
  return s;
}

void EdgeServer::Sweep() {
  while (!stop_.WaitForNotificationWithTimeout(options_.sweep_every)) {
    pool_.Expire();  // cancels go out through the pool's cancel hook
    workers_.DropSilent();
  }
}

void EdgeServer::Shutdown(absl::Duration grace) {
  if (shut_down_ || !server_) return;  // never started (Start failed) or already stopped
  shut_down_ = true;
  stop_.Notify();
  if (sweeper_.joinable()) sweeper_.join();
  // Every pending Multiply must be answered, or the server cannot stop: no
  // new jobs from here on, then fail those in flight.
  pool_.Close();
  pool_.FailAll(absl::UnavailableError("the edge server is shutting down"));  // cancels: via the hook
  workers_.CloseAll();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
}

EdgeServer::~EdgeServer() { Shutdown(); }

}  // namespace codedge
