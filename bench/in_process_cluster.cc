#include "bench/in_process_cluster.h"

#include <chrono>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "proto/wire.h"

namespace codedge::bench {

InProcessCluster::~InProcessCluster() {
  for (auto& s : stops) s->Notify();
  for (auto& t : threads) t.join();
  if (server) server->Shutdown();
}

absl::StatusOr<std::unique_ptr<InProcessCluster>> StartInProcessCluster(int workers,
                                                           const std::function<void(int, WorkerOptions&)>& customize,
                                                           absl::Duration connect_timeout) {
  auto c = std::make_unique<InProcessCluster>();
  EdgeServerOptions o;
  o.address = "127.0.0.1:0";
  auto server = EdgeServer::Start(o);
  if (!server.ok()) return server.status();
  c->server = *std::move(server);
  for (int i = 0; i < workers; ++i) {
    WorkerOptions w;
    w.server = absl::StrCat("127.0.0.1:", c->server->port());
    w.name = absl::StrCat("bench-", i);
    if (customize) customize(i, w);
    auto client = WorkerClient::Create(w);
    if (!client.ok()) return client.status();
    c->clients.push_back(*std::move(client));
    c->stops.push_back(std::make_unique<absl::Notification>());
    c->threads.emplace_back([cl = c->clients.back().get(), s = c->stops.back().get()] { (void)cl->Run(s); });
  }
  // Bounded wait until every worker is connected.
  absl::Notification never;
  const absl::Time end = absl::Now() + connect_timeout;
  while (absl::Now() < end && static_cast<int>(c->server->workers().Workers().size()) < workers) {
    never.WaitForNotificationWithTimeout(absl::Milliseconds(10));
  }
  if (const int n = static_cast<int>(c->server->workers().Workers().size()); n < workers) {
    return absl::DeadlineExceededError(absl::StrCat(n, " of ", workers, " workers connected within ",
                                                    absl::FormatDuration(connect_timeout)));
  }
  return c;
}

v1::MultiplyRequest MultiplyRequestFor(const Matrix& a, const Matrix& b, const std::string& spec) {
  v1::MultiplyRequest req;
  MatrixToProto(a, req.mutable_a());
  MatrixToProto(b, req.mutable_b());
  req.mutable_strategy()->set_spec(spec);
  return req;
}

absl::StatusOr<v1::MultiplyResponse> Call(v1::Compute::Stub& stub, const v1::MultiplyRequest& req) {
  v1::MultiplyResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  grpc::Status st = stub.Multiply(&ctx, req, &resp);
  if (!st.ok()) return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
  return resp;
}

std::unique_ptr<v1::Compute::Stub> Stub(int port) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(1 << 30);
  args.SetMaxSendMessageSize(1 << 30);
  return v1::Compute::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
}

}  // namespace codedge::bench
