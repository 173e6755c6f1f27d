#include <catch2/catch.hpp>

#include <vector>

#include "common/field.h"

#include <cmath>
#include <thread>

#include "common/matrix_util.h"
#include "tests/conv_case.h"
#include "worker/delay.h"
#include "worker/executor.h"

namespace codedge {
namespace {

TEST_CASE("Delay specs parse, print back, and reject bad input", "[worker][delay]") {
  for (const char* text : {"none", "const:0.5", "uniform:0.1,0.3", "normal:1,0.2", "exp:0.05", "shifted-exp:0.1,0.2"}) {
    auto s = ParseDelaySpec(text);
    REQUIRE(s.ok());
    CHECK(DelaySpecString(*s) == text);
  }
  for (const char* text : {"const", "const:", "const:x", "const:-1", "uniform:2,1", "uniform:1", "pareto:1",
                           "exp:1,2", "normal:nan,1"}) {
    INFO(text);
    auto s = ParseDelaySpec(text);
    CHECK(s.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(s.status().message().find("shifted-exp:SHIFT,MEAN") != std::string_view::npos);
  }
}

TEST_CASE("Delay samples follow their distribution and repeat per seed", "[worker][delay]") {
  const int n = 20000;
  auto mean_of = [&](const char* text, uint64_t seed) {
    DelaySampler s(*ParseDelaySpec(text), seed);
    double sum = 0;
    for (int i = 0; i < n; ++i) {
      const double x = absl::ToDoubleSeconds(s.Next());
      REQUIRE(x >= 0);
      sum += x;
    }
    return sum / n;
  };
  CHECK(mean_of("const:0.25", 1) == Approx(0.25));
  CHECK(std::abs(mean_of("uniform:0.1,0.3", 1) - 0.2) < 5 * 0.0577 / std::sqrt(n));
  CHECK(std::abs(mean_of("exp:0.05", 1) - 0.05) < 5 * 0.05 / std::sqrt(n));
  CHECK(std::abs(mean_of("shifted-exp:0.1,0.2", 1) - 0.3) < 5 * 0.2 / std::sqrt(n));
  CHECK(std::abs(mean_of("normal:1,0.1", 1) - 1.0) < 5 * 0.1 / std::sqrt(n));
  DelaySampler a(*ParseDelaySpec("exp:1"), 7), b(*ParseDelaySpec("exp:1"), 7), c(*ParseDelaySpec("exp:1"), 8);
  bool differs = false;
  for (int i = 0; i < 10; ++i) {
    const absl::Duration x = a.Next();
    CHECK(x == b.Next());
    differs |= x != c.Next();
  }
  CHECK(differs);
}

TEST_CASE("The executor computes rows . B exactly as a plain product", "[worker][executor]") {
  Pcg32 rng(1, 1);
  const Matrix rows = RandomUniformMatrix(1000, 30, rng), b = RandomUniformMatrix(30, 7, rng);
  auto ex = TaskExecutor::Create({.slowdown = 1.0, .chunk_rows = 64});
  REQUIRE(ex.ok());
  auto r = ex->Run(rows, b, absl::ZeroDuration(), nullptr);
  REQUIRE(r.ok());
  const Matrix want = rows * b;
  CHECK(RelativeError(r->product, want.cast<double>()) < 1e-6);
  CHECK(ex->Run(rows, RandomUniformMatrix(29, 7, rng), absl::ZeroDuration(), nullptr).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(TaskExecutor::Create({.slowdown = 0.5}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(TaskExecutor::Create({.chunk_rows = -1}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(TaskExecutor::Create({.chunk_rows = 0}).ok());  // automatic
  // RunInto writes the same product into the caller's buffer (the result
  // message's bytes), every chunk of it, and nothing else.
  std::vector<float> buffer(1000 * 7 + 1, -1.0f);
  auto into = ex->RunInto(rows, b, absl::ZeroDuration(), nullptr, Eigen::Map<Matrix>(buffer.data(), 1000, 7));
  REQUIRE(into.ok());
  CHECK(into->product.size() == 0);
  CHECK(Eigen::Map<Matrix>(buffer.data(), 1000, 7) == r->product);
  CHECK(buffer.back() == -1.0f);
  CHECK(ex->RunInto(rows, b, absl::ZeroDuration(), nullptr, Eigen::Map<Matrix>(buffer.data(), 999, 7)).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("The executor's convolution tasks equal the layer kernels' products, chunk by chunk", "[worker][executor]") {
  Pcg32 rng(5, 2);
  const ConvCase c = ConvCase::Make(ConvGeometry{1, 7, 6, 3, 3, 3, 1, 1}, 9, 5, rng);
  for (int64_t chunk : {1, 4, 0}) {  // 0: automatic (the whole task here)
    INFO("chunk rows " << chunk);
    auto ex = TaskExecutor::Create({.chunk_rows = chunk});
    REQUIRE(ex.ok());
    auto z = ex->Run(c.x, c.w, absl::ZeroDuration(), nullptr, c.fwd);
    REQUIRE(z.ok());
    CHECK(RelativeError(c.AsOutputPixels(z->product), c.z_want) < 1e-6);
    auto dx = ex->Run(c.dz, c.wt, absl::ZeroDuration(), nullptr, c.bwd);
    REQUIRE(dx.ok());
    CHECK(RelativeError(c.AsInputPixels(dx->product), c.dx_want) < 1e-6);
    auto dw = ex->Run(c.channels, c.dz_pixels, absl::ZeroDuration(), nullptr, c.wgt);
    REQUIRE(dw.ok());
    CHECK(RelativeError(c.AsWeightGradient(dw->product), c.dw_want) < 1e-6);
  }
  auto ex = TaskExecutor::Create({});
  REQUIRE(ex.ok());
  // Shapes that do not fit the op: clear errors, nothing computed.
  CHECK(ex->Run(c.x.leftCols(c.x.cols() - 1), c.w, absl::ZeroDuration(), nullptr, c.fwd).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ex->Run(c.x, c.wt, absl::ZeroDuration(), nullptr, c.fwd).status().code() ==
        absl::StatusCode::kInvalidArgument);
  std::vector<float> buffer(c.dz.size());
  CHECK(ex->RunInto(c.x, c.w, absl::ZeroDuration(), nullptr, Eigen::Map<Matrix>(buffer.data(), c.images, c.filters),
                    c.fwd)
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("The executor computes a T-private task's product mod p as naive field arithmetic does", "[worker][executor][private]") {
  Pcg32 rng(1, 2);
  FieldMatrix rows(300, 20);
  for (int64_t i = 0; i < rows.size(); ++i) rows.data()[i] = rng.NextU64() % kFieldPrime;
  rows(0, 0) = kFieldPrime - 1;
  Matrix b(20, 5);
  for (int64_t i = 0; i < b.size(); ++i) b.data()[i] = static_cast<float>(static_cast<int>(rng.UniformInt(65535)) - 32767);
  auto ex = TaskExecutor::Create({.chunk_rows = 64});
  REQUIRE(ex.ok());
  auto r = ex->RunField(Eigen::Map<const FieldMatrix>(rows.data(), rows.rows(), rows.cols()), b, absl::ZeroDuration(),
                        nullptr);
  REQUIRE(r.ok());
  REQUIRE(r->field_product.rows() == 300);
  REQUIRE(r->field_product.cols() == 5);
  CHECK(r->product.size() == 0);
  int64_t mismatches = 0;
  for (int64_t i = 0; i < rows.rows(); ++i) {
    for (int64_t j = 0; j < b.cols(); ++j) {
      uint64_t want = 0;
      for (int64_t l = 0; l < rows.cols(); ++l) {
        const float v = b(l, j);
        const uint64_t bv = v >= 0 ? static_cast<uint64_t>(v) : kFieldPrime - static_cast<uint64_t>(-v);
        want = FieldAdd(want, FieldMul(rows(i, l), bv));
      }
      mismatches += r->field_product(i, j) != want ? 1 : 0;
    }
  }
  CHECK(mismatches == 0);
  // B must hold 16-bit integers; shapes must chain; a cancel stops it.
  const auto view = Eigen::Map<const FieldMatrix>(rows.data(), rows.rows(), rows.cols());
  Matrix frac = b;
  frac(3, 2) = 0.5f;
  CHECK(ex->RunField(view, frac, absl::ZeroDuration(), nullptr).status().code() == absl::StatusCode::kInvalidArgument);
  Matrix big = b;
  big(1, 1) = 40000.0f;
  CHECK(ex->RunField(view, big, absl::ZeroDuration(), nullptr).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ex->RunField(view, Matrix::Ones(19, 5), absl::ZeroDuration(), nullptr).status().code() ==
        absl::StatusCode::kInvalidArgument);
  absl::Notification cancel;
  cancel.Notify();
  CHECK(ex->RunField(view, b, absl::ZeroDuration(), &cancel).status().code() == absl::StatusCode::kCancelled);
}

TEST_CASE("A cancel interrupts the injected delay at once", "[worker][executor]") {
  FakeClock clock;
  auto ex = TaskExecutor::Create({}, &clock);
  REQUIRE(ex.ok());
  const Matrix rows = Matrix::Ones(4, 3), b = Matrix::Ones(3, 2);
  absl::Notification cancel;
  absl::StatusOr<ExecResult> result = absl::UnknownError("unset");
  std::thread t([&] { result = ex->Run(rows, b, absl::Hours(1), &cancel); });
  cancel.Notify();  // the fake clock never advances: only the cancel can end the wait
  t.join();
  CHECK(result.status().code() == absl::StatusCode::kCancelled);

  // Without a cancel the fake hour passes when the clock is advanced (the
  // task reads the clock when it starts, so keep advancing until it is done).
  absl::Notification never, done;
  std::thread u([&] {
    result = ex->Run(rows, b, absl::Hours(1), &never);
    done.Notify();
  });
  for (int i = 0; i < 10000 && !done.WaitForNotificationWithTimeout(absl::Milliseconds(1)); ++i) {
    clock.Advance(absl::Minutes(30));
  }
  u.join();
  REQUIRE(result.ok());
  CHECK(result->product(0, 0) == 3.0f);
}

TEST_CASE("A cancel during compute stops within a chunk; slowdown stretches compute", "[worker][executor]") {
  Pcg32 rng(2, 2);
  const Matrix rows = RandomUniformMatrix(4000, 200, rng), b = RandomUniformMatrix(200, 50, rng);
  auto ex = TaskExecutor::Create({.slowdown = 3.0, .chunk_rows = 100});
  REQUIRE(ex.ok());
  absl::Notification cancel;
  cancel.Notify();
  CHECK(ex->Run(rows, b, absl::ZeroDuration(), &cancel).status().code() == absl::StatusCode::kCancelled);
  // Slowdown F waits (F-1) x the measured compute time: the injected part is
  // at least twice the compute (a lower bound: never flaky on a slow machine).
  auto r = ex->Run(rows, b, absl::ZeroDuration(), nullptr);
  REQUIRE(r.ok());
  CHECK(r->injected_seconds >= 2.0 * r->compute_seconds * 0.99);
}

TEST_CASE("row_seconds emulates a device speed: r rows take at least r x row_seconds", "[worker][executor]") {
  Pcg32 rng(3, 2);
  const Matrix rows = RandomUniformMatrix(50, 8, rng), b = RandomUniformMatrix(8, 2, rng);
  auto ex = TaskExecutor::Create({.row_seconds = 0.002});
  REQUIRE(ex.ok());
  const absl::Time start = absl::Now();
  auto r = ex->Run(rows, b, absl::ZeroDuration(), nullptr);
  REQUIRE(r.ok());
  CHECK(absl::Now() - start >= absl::Milliseconds(100));  // 50 rows x 2 ms
  CHECK(r->compute_seconds + r->injected_seconds >= 0.1 * 0.99);
  CHECK(RelativeError(r->product, rows.cast<double>() * b.cast<double>()) < 1e-6);
  // The emulated time is an interruptible wait.
  absl::Notification cancel;
  std::thread t([&] {
    absl::SleepFor(absl::Milliseconds(20));
    cancel.Notify();
  });
  const absl::Time s2 = absl::Now();
  CHECK(ex->Run(rows, b, absl::ZeroDuration(), &cancel).status().code() == absl::StatusCode::kCancelled);
  t.join();
  CHECK(absl::Now() - s2 < absl::Milliseconds(90));
  CHECK(TaskExecutor::Create({.row_seconds = -1}).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/notification.h"
#include "proto/codedge.grpc.pb.h"
#include "proto/wire.h"
#include "worker/client.h"

namespace codedge {
namespace {

// A server that hands the worker the first half of a task in pieces, then
// cancels it, and watches for the credit coming back.
class HalfTaskServer final : public v1::Worker::Service {
 public:
  grpc::Status Connect(grpc::ServerContext*, grpc::ServerReaderWriter<v1::ServerMessage, v1::WorkerMessage>* stream)
      override {
    v1::WorkerMessage in;
    if (!stream->Read(&in) || !in.has_hello()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no hello");
    v1::ServerMessage m;
    m.mutable_welcome()->set_worker_id(1);  // heartbeat 0: none
    stream->Write(m);
    if (!stream->Read(&in) || !in.has_ready()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no ready");
    m.Clear();
    m.mutable_job_data()->set_job_id(1);
    MatrixToProto(Matrix::Ones(2, 1), m.mutable_job_data()->mutable_b());
    stream->Write(m);
    m.Clear();
    m.mutable_task()->set_job_id(1);
    m.mutable_task()->set_task_id(0);
    m.mutable_task()->set_total_rows(4);  // two more rows would follow in a piece
    MatrixToProto(Matrix::Ones(2, 2), m.mutable_task()->mutable_coded_rows());
    stream->Write(m);
    m.Clear();
    m.mutable_cancel()->set_job_id(1);
    m.mutable_cancel()->set_task_id(0);
    stream->Write(m);
    while (stream->Read(&in)) {
      if (in.has_ready() && in.ready().credits() == 1) credit_back.Notify();
      if (in.has_result()) got_result = true;
    }
    return grpc::Status::OK;
  }
  absl::Notification credit_back;
  std::atomic<bool> got_result{false};
};

// Runs a worker (`o`, its server address set here) against `service` on
// loopback until `until` is notified (10 s at most); false on time-out.
bool RunWorkerUntil(grpc::Service& service, absl::Notification& until, WorkerOptions o,
                    int64_t* tasks_cancelled = nullptr) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  o.server = absl::StrCat("127.0.0.1:", port);
  auto worker = WorkerClient::Create(o);
  REQUIRE(worker.ok());
  absl::Notification stop;
  std::thread run([&] { (void)(*worker)->Run(&stop); });
  const bool seen = until.WaitForNotificationWithTimeout(absl::Seconds(10));
  stop.Notify();
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  run.join();
  if (tasks_cancelled != nullptr) *tasks_cancelled = (*worker)->tasks_cancelled();
  return seen;
}

TEST_CASE("A task cancelled while its pieces arrive gives its credit back", "[worker][client]") {
  HalfTaskServer service;
  WorkerOptions o;
  o.credits = 1;  // without the credit back the worker would never be given work again
  int64_t cancelled = 0;
  CHECK(RunWorkerUntil(service, service.credit_back, o, &cancelled));
  CHECK_FALSE(service.got_result);  // the half task was never computed
  CHECK(cancelled == 1);
}

}  // namespace
}  // namespace codedge

namespace codedge {
namespace {

// A server that greets the worker, then plays `script` on the stream and
// notes what the worker answers: a hostile or careless server, to see that
// the worker refuses clearly and lives on.
class ScriptedServer final : public v1::Worker::Service {
 public:
  using Stream = grpc::ServerReaderWriter<v1::ServerMessage, v1::WorkerMessage>;
  explicit ScriptedServer(std::function<void(Stream*)> script) : script_(std::move(script)) {}
  grpc::Status Connect(grpc::ServerContext*, Stream* stream) override {
    v1::WorkerMessage in;
    if (!stream->Read(&in) || !in.has_hello()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no hello");
    v1::ServerMessage m;
    m.mutable_welcome()->set_worker_id(1);
    stream->Write(m);
    const int connection = connections_.fetch_add(1);
    if (connection == 0) script_(stream);
    if (connection == 1) reconnected_.Notify();
    while (stream->Read(&in)) {
      if (in.has_result()) {
        failed_results_ += in.result().has_product() ? 0 : 1;
        answered_.Notify();
      }
    }
    return grpc::Status::OK;
  }
  std::atomic<int> connections_{0}, failed_results_{0};
  absl::Notification answered_, reconnected_;

 private:
  std::function<void(Stream*)> script_;
};

void SendJobData(ScriptedServer::Stream* stream, const Matrix& b, const v1::RowOp& op) {
  v1::ServerMessage m;
  m.mutable_job_data()->set_job_id(1);
  MatrixToProto(b, m.mutable_job_data()->mutable_b());
  *m.mutable_job_data()->mutable_op() = op;
  stream->Write(m);
}

// A row operation whose output size would divide by its stride of 0.
v1::RowOp StrideZeroOp() {
  v1::RowOp op;
  op.set_kind(v1::RowOp::PRODUCT_COL2IM);
  for (auto v : {&v1::RowOp::set_height, &v1::RowOp::set_width, &v1::RowOp::set_channels, &v1::RowOp::set_kernel_h,
                 &v1::RowOp::set_kernel_w}) {
    (op.*v)(3);
  }
  return op;
}

WorkerOptions QuickReconnect() {
  WorkerOptions o;
  o.backoff_min = absl::Milliseconds(10);
  return o;
}

TEST_CASE("A worker refuses a hostile row operation and a task that does not fit it, and lives on", "[worker][client][bad-input]") {
  // A stride of 0 (the output size would divide by it), and a geometry
  // whose result rows would be 2^45 values (kernel 8192 x 8192 over a
  // 2 MiB B): refused when B arrives; the worker drops the stream and
  // connects again.
  const v1::RowOp stride0 = StrideZeroOp();
  v1::RowOp huge;
  huge.set_kind(v1::RowOp::IM2COL_T_PRODUCT);
  huge.set_images(1);
  huge.set_height(1);
  huge.set_width(1);
  huge.set_channels(1);
  huge.set_kernel_h(8192);
  huge.set_kernel_w(8192);
  huge.set_pad(4096);
  huge.set_stride(2);
  struct Case {
    const char* what;
    v1::RowOp op;
    Matrix b;
  };
  for (const Case& c : {Case{"stride 0", stride0, Matrix::Ones(2, 27)}, Case{"2^45-value result rows", huge,
                                                                             Matrix::Ones(1, 1 << 19)}}) {
    INFO(c.what);
    ScriptedServer service([&](ScriptedServer::Stream* s) { SendJobData(s, c.b, c.op); });
    CHECK(RunWorkerUntil(service, service.reconnected_, QuickReconnect()));
    CHECK(service.failed_results_ == 0);
  }
  // A good op, then a task whose rows are not the op's images: the task
  // fails (a result without a product), the stream stays.
  v1::RowOp conv;
  RowOpToProto(RowOp{RowOp::Kind::kIm2colProduct, ConvGeometry{1, 4, 4, 1, 3, 3, 1, 1}}, &conv);
  ScriptedServer service([&](ScriptedServer::Stream* s) {
    SendJobData(s, Matrix::Ones(9, 2), conv);
    v1::ServerMessage m;
    m.mutable_task()->set_job_id(1);
    m.mutable_task()->set_task_id(0);
    MatrixToProto(Matrix::Ones(2, 15), m.mutable_task()->mutable_coded_rows());
    s->Write(m);
  });
  CHECK(RunWorkerUntil(service, service.answered_, QuickReconnect()));
  CHECK(service.failed_results_ == 1);
  CHECK(service.connections_ == 1);
}

TEST_CASE("A worker that refuses a server's message while its result waits to be read still leaves promptly", "[worker][client][bad-input]") {
  // A 16 MB result the server does not read (its write waits on flow
  // control), then a hostile B: the worker's own error must end the stream
  // at once, not when the server reads again (here: once the worker has
  // connected again, or after 20 s).
  const v1::RowOp stride0 = StrideZeroOp();
  std::atomic<int64_t> refused_at_us{0};  // written by the server's thread
  ScriptedServer* self = nullptr;
  ScriptedServer service([&](ScriptedServer::Stream* s) {
    SendJobData(s, Matrix::Ones(64, 65536), v1::RowOp());
    v1::ServerMessage m;
    m.mutable_task()->set_job_id(1);
    m.mutable_task()->set_task_id(0);
    MatrixToProto(Matrix::Ones(64, 64), m.mutable_task()->mutable_coded_rows());
    s->Write(m);
    absl::SleepFor(absl::Milliseconds(500));  // the worker is writing its result by now
    m.Clear();
    m.mutable_job_data()->set_job_id(2);
    MatrixToProto(Matrix::Ones(2, 27), m.mutable_job_data()->mutable_b());
    *m.mutable_job_data()->mutable_op() = stride0;
    refused_at_us = absl::ToUnixMicros(absl::Now());
    s->Write(m);
    self->reconnected_.WaitForNotificationWithTimeout(absl::Seconds(20));  // reads nothing meanwhile
  });
  self = &service;
  CHECK(RunWorkerUntil(service, service.reconnected_, QuickReconnect()));
  REQUIRE(refused_at_us > 0);
  CHECK(absl::Now() - absl::FromUnixMicros(refused_at_us) < absl::Seconds(5));
}

// A server that takes the stream and the Hello, then says nothing until
// the worker gives up on it.
class SilentServer final : public v1::Worker::Service {
 public:
  grpc::Status Connect(grpc::ServerContext*, ScriptedServer::Stream* stream) override {
    if (connections_.fetch_add(1) == 1) reconnected_.Notify();
    v1::WorkerMessage in;
    while (stream->Read(&in)) {
    }
    return grpc::Status::OK;
  }
  std::atomic<int> connections_{0};
  absl::Notification reconnected_;
};

TEST_CASE("A worker leaves a server that sends no welcome and connects again", "[worker][client][bad-input]") {
  SilentServer service;
  WorkerOptions o = QuickReconnect();
  o.welcome_timeout = absl::Milliseconds(200);
  const absl::Time start = absl::Now();
  CHECK(RunWorkerUntil(service, service.reconnected_, o));
  CHECK(absl::Now() - start < absl::Seconds(5));
}

}  // namespace
}  // namespace codedge
