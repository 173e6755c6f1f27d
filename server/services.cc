#include "server/services.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "proto/credentials.h"
#include "server/convert.h"

namespace codedge {

grpc::Status ToGrpc(const absl::Status& s) {
  // absl status codes are gRPC's, number for number.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

// One worker's stream. gRPC calls (StartRead/StartWrite/Finish) are made
// without holding mu_, so a reaction that runs inline cannot deadlock. The
// registry holds a shared_ptr; so does the reactor itself until OnDone, so a
// Kick or Deliver racing with the end of the stream touches live memory and
// sees done_.
namespace {

// Serialises a (small) message into a byte buffer.
grpc::ByteBuffer Serialize(const v1::ServerMessage& m) {
  grpc::ByteBuffer out;
  bool own = false;
  (void)grpc::GenericSerialize<grpc::ProtoBufferWriter, v1::ServerMessage>(m, &out, &own);
  return out;
}

// One message of a task's block (the whole block, or the piece of `rows`
// rows from `first`) as bytes on the wire: frame header, the rows themselves
// referenced where they lie, frame trailer. The data slice holds a reference
// to the block's owner until gRPC has written it.
constexpr size_t kCopyBelowBytes = 16 << 10;

grpc::ByteBuffer BlockBytes(const Assignment& a, int64_t first, int64_t rows) {
  const bool piece = first > 0;
  const BlockMessageFrame f =
      TaskBlockFrame(piece, a.job, a.task, rows, a.cols, !piece && rows < a.rows ? a.rows : 0, a.field());
  const size_t element_bytes = a.field() ? sizeof(uint64_t) : sizeof(float);
  const char* data = a.field() ? reinterpret_cast<const char*>(a.field_data + first * a.cols)
                               : reinterpret_cast<const char*>(a.data + first * a.cols);
  const size_t bytes = static_cast<size_t>(rows * a.cols) * element_bytes;
  if (bytes <= kCopyBelowBytes) {  // small: one copied slice beats a shared reference
    std::string all = f.header;
    all.append(data, bytes);
    all += f.trailer;
    grpc::Slice slice(all);
    return grpc::ByteBuffer(&slice, 1);
  }
  auto* keep = new std::shared_ptr<const void>(a.owner);
  grpc::Slice slices[3] = {
      grpc::Slice(f.header),
      grpc::Slice(const_cast<char*>(data), bytes, [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); },
                  keep),
      grpc::Slice(f.trailer)};
  return grpc::ByteBuffer(slices, f.trailer.empty() ? 2 : 3);
}

}  // namespace

class WorkerService::Conn final : public grpc::ServerGenericBidiReactor,
                                  public std::enable_shared_from_this<WorkerService::Conn> {
 public:
  static constexpr int kMaxCredits = kMaxWorkerCredits;  // proto/wire.h
  // A message queued for writing.
  struct Out {
    grpc::ByteBuffer bytes;
    uint64_t job = 0;
    int64_t task = -1;
    bool piece = false;  // a TaskPiece (droppable when its task is cancelled)
  };
  Conn(WorkerService* svc, WorkerId id) : svc_(svc), id_(id) {}
  void Start(std::shared_ptr<Conn> self) {
    self_ = std::move(self);
    {
      absl::MutexLock lock(&mu_);
      last_seen_ = absl::Now();
    }
    StartRead(&in_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the worker closed its side or went away
      Close(grpc::Status::OK);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      last_seen_ = absl::Now();
    }
    if (grpc::Status st = grpc::GenericDeserialize<grpc::ProtoBufferReader, v1::WorkerMessage>(&in_bytes_, &in_);
        !st.ok()) {
      Close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         absl::StrCat("malformed worker message: ", st.error_message())));
      return;
    }
    switch (in_.msg_case()) {
      case v1::WorkerMessage::kHello: OnHello(in_.hello()); break;
      case v1::WorkerMessage::kReady: {
        {
          absl::MutexLock lock(&mu_);
          // Credits are bounded: a worker cannot make the server queue
          // unbounded work for it.
          credits_ = static_cast<int>(
              std::min<int64_t>(int64_t{credits_} + std::max(0, in_.ready().credits()), kMaxCredits));
        }
        svc_->Kick();  // round robin over every worker with credits (this one included)
        break;
      }
      case v1::WorkerMessage::kResult: OnResult(std::move(*in_.mutable_result())); break;
      case v1::WorkerMessage::kHeartbeat: break;
      case v1::WorkerMessage::kDrain: OnDrain(); break;
      default: Close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty worker message")); return;
    }
    bool read_more;
    {
      absl::MutexLock lock(&mu_);
      read_more = !finishing_;
    }
    if (read_more) StartRead(&in_bytes_);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!outbox_.empty()) outbox_.pop_front();
      if (!ok) {
        outbox_.clear();
        FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write to worker failed"));
      }
    }
    Flush();
    ReleaseIfCut();
  }

  void OnCancel() override { Close(grpc::Status::CANCELLED); }

  void OnDone() override {
    std::string name;
    int64_t results;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      name = name_;
      results = results_;
    }
    {
      absl::MutexLock lock(&svc_->mu_);
      svc_->conns_.erase(id_);
    }
    // After the results this worker sent before it went (they are decoded
    // in order on the work threads): what it still holds goes to the
    // others (mostly nothing by now: the cut gave it back, ReleaseIfCut).
    Serially([this, name, results] {
      svc_->pool_->OnWorkerLost(id_);
      Log().info("worker {} ({}) disconnected after {} results", id_, name, results);
      svc_->Kick();
    });
    self_.reset();  // the work queue may hold the last reference
  }

  // Pulls up to `max` tasks while there are credits and queues them for
  // writing. Returns how many it pulled. On the work threads only: NextTask
  // may encode (a rateless task: milliseconds), which runs outside mu_ so
  // that this stream's reactions never wait for it.
  int Pump(int max = kMaxCredits) {
    // One pump per stream at a time (a job's B must go out before its
    // tasks); a round that finds this stream being pumped leaves it to the
    // thread that is (it does not wait behind that thread's encoding).
    // A round that finds it busy leaves a note first: the holder may have
    // looked at the pool before whatever this round was kicked for (a new
    // job), so it kicks another round after it lets go.
    pump_wanted_.store(true);
    if (!pump_mu_.TryLock()) return 0;
    pump_wanted_.store(false);  // this pump looks at the pool after the note
    int pulled = 0;
    while (pulled < max) {
      {
        absl::MutexLock lock(&mu_);
        if (!hello_ || draining_ || finishing_ || done_ || credits_ <= 0) break;
      }
      std::optional<Assignment> a = svc_->pool_->NextTask(id_);
      if (!a) break;
      std::vector<Out> messages = Messages(*a);  // serialised outside mu_
      bool gone;
      {
        absl::MutexLock lock(&mu_);
        gone = draining_ || finishing_ || done_;
        // Asked under mu_: a cancel of this task (Send takes mu_) either went
        // out already -- then the task is not sent, or it would reach the
        // worker after its cancel -- or waits until the task is queued.
        if (!gone && svc_->pool_->Holds(id_, a->job, a->task)) {
          credits_--;
          pulled++;
          for (Out& m : messages) outbox_.push_back(std::move(m));
        } else if (!gone && a->b) {
          // Not sent, and neither is the job's B that went with it: the
          // pool must send B with this worker's next task of the job.
          svc_->pool_->ForgetB(id_, a->job);
        }
      }
      if (gone) {
        // The stream ended (or the worker began draining) while the task was
        // picked: hand it back, or it would wait for a worker that will
        // never compute it; the other workers are told it is there.
        (void)svc_->pool_->OnTaskFailed(id_, a->job, a->task);
        svc_->Kick();
        break;
      }
    }
    pump_mu_.Unlock();
    if (pump_wanted_.exchange(false)) svc_->Kick();
    Flush();
    return pulled;
  }

  void Send(const v1::ServerMessage& m) {
    grpc::ByteBuffer bytes = Serialize(m);
    {
      absl::MutexLock lock(&mu_);
      if (finishing_ || done_) return;
      if (m.has_cancel()) DropPiecesLocked(m.cancel().job_id(), m.cancel().task_id());
      outbox_.push_back(Out{std::move(bytes)});
    }
    Flush();
  }

  // Ends the stream with `s` (its tasks go to the others: ReleaseIfCut).
  void Close(const grpc::Status& s) {
    {
      absl::MutexLock lock(&mu_);
      FinishLocked(s);
    }
    Flush();
    ReleaseIfCut();
  }

  // How long since the last message, if the worker has said Hello and the
  // stream is not already closing; nullopt otherwise.
  std::optional<absl::Duration> Silence(absl::Time now) {
    absl::MutexLock lock(&mu_);
    if (!hello_ || finishing_ || done_) return std::nullopt;
    return now - last_seen_;
  }

  WorkerInfo Info() {
    absl::MutexLock lock(&mu_);
    return WorkerInfo{id_, name_, credits_, results_, last_seen_, draining_};
  }
  bool admitted() {  // said a Hello the server accepted
    absl::MutexLock lock(&mu_);
    return hello_;
  }

 private:
  void OnHello(const v1::Hello& h) {
    if (h.version() != v1::PROTOCOL_VERSION_3) {
      Close(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                         absl::StrCat("worker speaks protocol version ", h.version(), ", this server speaks ",
                                      v1::PROTOCOL_VERSION_3, "; upgrade the worker or the server")));
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      hello_ = true;
      name_ = h.worker_name();
    }
    Log().info("worker {} ({}, {} threads, {}) connected", id_, h.worker_name(), h.threads(), h.arch());
    v1::ServerMessage m;
    m.mutable_welcome()->set_worker_id(id_);
    m.mutable_welcome()->set_heartbeat_interval_ms(
        static_cast<int32_t>(absl::ToInt64Milliseconds(svc_->options_.heartbeat_interval)));
    Send(m);
    svc_->Kick();  // credits may have arrived before the Hello
  }

  // The worker leaves gracefully: no more tasks; the ack tells it that
  // none follows (it then finishes what it holds and closes the stream).
  void OnDrain() {
    std::string name;
    bool ack = false;
    {
      absl::MutexLock lock(&mu_);
      if (!hello_) {
        FinishLocked(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "first message must be Hello"));
      } else if (!draining_) {
        draining_ = true;
        ack = true;
        name = name_;
      }
    }
    if (!ack) {
      Flush();
      return;
    }
    Log().info("worker {} ({}) draining: it finishes the tasks it holds and gets no more", id_, name);
    v1::ServerMessage m;
    m.mutable_drain_ack();
    Send(m);
  }

  // In the reaction: only the count; the result itself is taken in on the
  // work threads (Accept: a decode can take tens of milliseconds, and this
  // stream's and every other worker's reactions share the reaction threads).
  void OnResult(v1::TaskResult result) {
    bool refused = false;
    {
      absl::MutexLock lock(&mu_);
      if (!hello_) {
        FinishLocked(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "first message must be Hello"));
        refused = true;
      } else {
        results_++;
      }
    }
    if (refused) {
      Flush();
      return;
    }
    auto r = std::make_shared<v1::TaskResult>(std::move(result));
    Serially([this, r] { Accept(*r); });
  }

  // On a work thread, in this stream's order. The result returns its task's
  // credit only now: credits returned on arrival let the pump hand out
  // rateless tasks faster than their results were taken in.
  void Accept(const v1::TaskResult& r) {
    {
      absl::MutexLock lock(&mu_);
      credits_ = std::min(credits_ + 1, kMaxCredits);
    }
    const std::string what = absl::StrCat("result of job ", r.job_id(), " task ", r.task_id());
    const bool field = r.product().element() == v1::ELEMENT_FIELD_P61;  // a T-private job's
    absl::StatusOr<Matrix> product = absl::UnknownError("unset");
    absl::StatusOr<FieldMatrix> field_product = absl::UnknownError("unset");
    absl::Status parsed;
    if (field) {
      field_product = FieldMatrixFromProto(r.product(), what);
      parsed = field_product.status();
    } else {
      product = MatrixFromProto(r.product(), what);
      parsed = product.status();
    }
    if (!parsed.ok()) {
      // The worker failed the task (it sends an empty result) or sent garbage:
      // the task goes to someone else.
      if (r.product().rows() != 0) Log().warn("worker {}: {}", id_, parsed.ToString());
      if (absl::Status s = svc_->pool_->OnTaskFailed(id_, r.job_id(), r.task_id()); !s.ok()) {
        Log().debug("worker {}: {}", id_, s.ToString());
      }
      svc_->Kick();
      return;
    }
    absl::StatusOr<std::vector<CancelOrder>> cancels =
        field ? svc_->pool_->OnFieldResult(id_, r.job_id(), r.task_id(), *std::move(field_product),
                                           r.compute_seconds(), r.delay_seconds())
              : svc_->pool_->OnResult(id_, r.job_id(), r.task_id(), *std::move(product), r.compute_seconds(),
                                      r.delay_seconds());
    // Cancels went out through the pool's cancel hook (EdgeServer sets it).
    if (cancels.status().code() == absl::StatusCode::kPermissionDenied) {
      // A wrong result (verification): this worker gets no more tasks; its
      // stream ends, so what it still holds goes to the others.
      Log().warn("worker {}: {}", id_, std::string(cancels.status().message()));
      Close(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                         "a result of this worker failed verification; it gets no more tasks"));
    } else if (cancels.status().code() == absl::StatusCode::kNotFound) {
      Log().debug("worker {}: late result: {}", id_, cancels.status().ToString());
    } else if (!cancels.ok()) {
      Log().warn("worker {}: {}", id_, cancels.status().ToString());
    }
    svc_->Kick();
  }

  // An assignment's messages: B the first time this worker gets a task of
  // the job, then the block, in pieces when large (the worker unpacks one
  // while the next is on the wire), to be queued together so that nothing
  // comes between them.
  std::vector<Out> Messages(const Assignment& a) const {
    std::vector<Out> out;
    if (a.b) {
      v1::ServerMessage m;
      m.mutable_job_data()->set_job_id(a.job);
      MatrixToProto(*a.b, m.mutable_job_data()->mutable_b());
      if (!a.op.plain()) RowOpToProto(a.op, m.mutable_job_data()->mutable_op());
      out.push_back(Out{Serialize(m)});
    }
    const int64_t row_bytes = a.cols * static_cast<int64_t>(a.field() ? sizeof(uint64_t) : sizeof(float));
    const int64_t piece_rows = std::max<int64_t>(1, svc_->options_.task_piece_bytes / row_bytes);
    for (int64_t first = 0; first < a.rows; first += piece_rows) {
      const int64_t rows = std::min(piece_rows, a.rows - first);
      out.push_back(Out{BlockBytes(a, first, rows), a.job, a.task, first > 0});
    }
    return out;
  }

  // Runs `fn` on the service's work threads after everything this stream
  // queued before it (its results, then its end).
  void Serially(std::function<void()> fn) {
    bool start;
    {
      absl::MutexLock lock(&serial_mu_);
      serial_.push_back(std::move(fn));
      start = !serial_running_;
      serial_running_ = true;
    }
    // Not self_: Close may come from another thread (DropSilent, CloseAll)
    // while OnDone resets it; every caller holds a reference to `this`.
    if (start) svc_->work_.Post([self = shared_from_this()] { self->RunSerially(self); });
  }
  // One item per work item, then back in line: a busy worker's results do
  // not keep a work thread from every other stream.
  void RunSerially(const std::shared_ptr<Conn>& self) {  // `self` keeps the stream alive
    std::function<void()> fn;
    {
      absl::MutexLock lock(&serial_mu_);
      fn = std::move(serial_.front());
      serial_.pop_front();
    }
    fn();
    bool more;
    {
      absl::MutexLock lock(&serial_mu_);
      more = !serial_.empty();
      serial_running_ = more;
    }
    if (more) svc_->work_.Post([self] { self->RunSerially(self); });
  }

  // A cancelled task's pieces still queued need not go out (the worker drops
  // the part it has when the cancel arrives); the one being written stays.
  void DropPiecesLocked(uint64_t job, int64_t task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = outbox_.begin();
    if (writing_ && it != outbox_.end()) ++it;
    auto dropped = std::remove_if(it, outbox_.end(), [&](const Out& o) {
      return o.piece && o.job == job && (task < 0 || o.task == task);
    });
    outbox_.erase(dropped, outbox_.end());
  }

  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_) return;
    finishing_ = true;
    release_pending_ = hello_ && !done_;
    final_status_ = s;
    if (!s.ok() && writing_) {
      while (outbox_.size() > 1) outbox_.pop_back();  // keep only the write in flight
    } else if (!s.ok()) {
      outbox_.clear();
    }
  }

  // Once the server has decided to end an admitted worker's stream
  // (FinishLocked), its tasks go to the others, after the results it sent
  // before (Serially), not when gRPC finishes the stream: with a write in
  // flight to a peer that does not read (a frozen device, or one that broke
  // the protocol), the stream ends only when gRPC gives up on the
  // connection or on the call's deadline. In two tests a job waited 10.7 s
  // for a frozen worker and 29.7 s for one cut off mid-write; with this the
  // whole tests take 1.5 s and 0.4 s. No result is read after the cut
  // (OnReadDone stops); one already in flight is refused as no longer held,
  // its task given back here, so nothing is lost.
  void ReleaseIfCut() {
    {
      absl::MutexLock lock(&mu_);
      if (!release_pending_) return;
      release_pending_ = false;
    }
    Serially([this] {
      svc_->pool_->OnWorkerLost(id_);
      svc_->Kick();
    });
  }

  // Starts the next write, or the Finish once the outbox is drained; the
  // gRPC call is made after mu_ is released.
  void Flush() {
    const grpc::ByteBuffer* next = nullptr;
    bool finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (done_ || writing_) return;
      if (!outbox_.empty()) {
        writing_ = true;
        next = &outbox_.front().bytes;  // stays put until OnWriteDone pops it
      } else if (finishing_ && !finished_) {
        finished_ = true;
        finish = true;
        status = final_status_;
      }
    }
    if (next != nullptr) {
      StartWrite(next);
    } else if (finish) {
      Finish(status);
    }
  }

  WorkerService* const svc_;
  const WorkerId id_;
  std::shared_ptr<Conn> self_;  // released in OnDone
  grpc::ByteBuffer in_bytes_;
  v1::WorkerMessage in_;
  absl::Mutex pump_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // held by Pump, on work threads only
  std::atomic<bool> pump_wanted_{false};           // a Pump found pump_mu_ held
  absl::Mutex serial_mu_;
  std::deque<std::function<void()>> serial_ ABSL_GUARDED_BY(serial_mu_);
  bool serial_running_ ABSL_GUARDED_BY(serial_mu_) = false;
  absl::Mutex mu_;
  std::deque<Out> outbox_ ABSL_GUARDED_BY(mu_);  // front is being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool hello_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool release_pending_ ABSL_GUARDED_BY(mu_) = false;  // FinishLocked on an admitted stream: see ReleaseIfCut
  bool draining_ ABSL_GUARDED_BY(mu_) = false;  // the worker asked for no more tasks
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  int credits_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t results_ ABSL_GUARDED_BY(mu_) = 0;
  std::string name_ ABSL_GUARDED_BY(mu_);
  absl::Time last_seen_ ABSL_GUARDED_BY(mu_);
};

grpc::ServerGenericBidiReactor* WorkerService::CreateReactor(grpc::GenericCallbackServerContext* ctx) {
  if (ctx->method() != "/codedge.v1.Worker/Connect") return grpc::CallbackGenericService::CreateReactor(ctx);
  if (grpc::Status st = CheckToken(ctx->client_metadata(), token_); !st.ok()) {
    Log().warn("refused a worker from {}: {}", ctx->peer(), st.error_message());
    class Refuse final : public grpc::ServerGenericBidiReactor {
     public:
      explicit Refuse(const grpc::Status& st) { Finish(st); }
      void OnDone() override { delete this; }
    };
    return new Refuse(st);
  }
  std::shared_ptr<Conn> conn;
  {
    absl::MutexLock lock(&mu_);
    conn = std::make_shared<Conn>(this, next_id_++);
    conns_[next_id_ - 1] = conn;
  }
  conn->Start(conn);
  return conn.get();
}

std::vector<std::shared_ptr<WorkerService::Conn>> WorkerService::Snapshot() {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Conn>> out;
  for (auto& [id, conn] : conns_) out.push_back(conn);
  return out;
}

void WorkerService::Kick() {
  // One round queued at a time: a kick while one waits adds nothing to it.
  if (kick_pending_.exchange(true)) return;
  work_.Post([this] {
    kick_pending_ = false;  // kicks from here on queue another round
    PumpRound();
  });
}

void WorkerService::PumpRound() {
  // Round robin, one task per worker per round: a new job's first tasks are
  // spread over every idle worker before anyone gets a second (credits
  // would otherwise let the first workers in the registry take them all).
  // One round per work item: results queued meanwhile are accepted between
  // rounds (rateless jobs have tasks without end, and a round that looped
  // until nobody pulled kept both work threads encoding while the results
  // that would finish the job waited behind them).
  bool any = false;
  for (auto& conn : Snapshot()) any |= conn->Pump(1) > 0;
  if (any) Kick();
}

void WorkerService::Deliver(const std::vector<CancelOrder>& cancels) {
  std::map<WorkerId, std::shared_ptr<Conn>> conns;
  {
    absl::MutexLock lock(&mu_);
    for (const CancelOrder& c : cancels) {
      auto it = conns_.find(c.worker);
      if (it != conns_.end()) conns[c.worker] = it->second;
    }
  }
  for (const CancelOrder& c : cancels) {
    auto it = conns.find(c.worker);
    if (it == conns.end()) continue;
    v1::ServerMessage m;
    m.mutable_cancel()->set_job_id(c.job);
    m.mutable_cancel()->set_task_id(c.task);
    m.mutable_cancel()->set_sent_unix_micros(absl::ToUnixMicros(absl::Now()));
    it->second->Send(m);
  }
}

void WorkerService::DropSilent() {
  const absl::Time now = absl::Now();
  for (auto& conn : Snapshot()) {
    std::optional<absl::Duration> silence = conn->Silence(now);
    if (!silence || *silence <= options_.silence_timeout) continue;
    const WorkerInfo info = conn->Info();
    Log().warn("worker {} ({}) silent for {}: dropping it; its tasks go to the others", info.id, info.name,
               absl::FormatDuration(absl::Trunc(*silence, absl::Milliseconds(1))));
    conn->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             absl::StrCat("no message from this worker for ", absl::FormatDuration(*silence),
                                          " (heartbeats are expected every ",
                                          absl::FormatDuration(options_.heartbeat_interval), ")")));
    // Close gives its tasks to the others at once (a frozen peer does not
    // read: the stream itself may take long to end).
  }
}

void WorkerService::CloseAll() {
  for (auto& conn : Snapshot()) conn->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
}

std::vector<WorkerService::WorkerInfo> WorkerService::Workers() {
  std::vector<WorkerInfo> out;
  for (auto& conn : Snapshot()) {
    // A stream that has not said Hello yet is not a worker (no name; it may
    // still be refused): waiting for N workers must not count it.
    if (conn->admitted()) out.push_back(conn->Info());
  }
  return out;
}

// A Multiply call: answered when its job decodes or fails; a client that
// cancels (or whose deadline passes) cancels the job and its tasks. Deletes
// itself in OnDone, which gRPC runs after every other reaction.
class ComputeService::MultiplyCall final : public grpc::ServerUnaryReactor {
 public:
  // `done` runs once the call is over (the per-client job count).
  MultiplyCall(ComputeService* svc, v1::MultiplyResponse* resp, std::function<void()> done)
      : svc_(svc), pool_(svc->pool_), resp_(resp), done_(std::move(done)) {}

  // In the reaction: hands the request to an admission thread. gRPC keeps
  // `req` until Finish (only Admit and Answer call it); the call itself lives
  // until both OnDone and the admission are over -- a tiny job can finish,
  // and gRPC run OnDone, while Admit is still returning from Submit.
  void Start(grpc::CallbackServerContext* ctx, const v1::MultiplyRequest* req) {
    absl::Time deadline = absl::InfiniteFuture();
    if (ctx->deadline() != std::chrono::system_clock::time_point::max()) deadline = absl::FromChrono(ctx->deadline());
    {
      absl::MutexLock lock(&mu_);
      deadline_ = deadline;
    }
    svc_->admission_.Post([this, req, deadline] {
      Admit(*req, deadline);
      Release();
    });
  }

  // gRPC also cancels the call when its deadline passes.
  void OnCancel() override {
    std::optional<JobId> job;
    bool expired;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      job = job_;
      expired = absl::Now() >= deadline_;
    }
    const char* why = expired ? "the call's deadline passed" : "the client cancelled the call";
    if (job && pool_->Cancel(*job, why).ok()) Log().info("job {}: {}; its tasks are cancelled", *job, why);
  }

  void OnDone() override {
    if (done_) done_();
    Release();
  }

 private:
  void Release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // On an admission thread: the request's matrices, then the job. A call
  // cancelled before it gets here is not submitted at all.
  void Admit(const v1::MultiplyRequest& req, absl::Time deadline) {
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) {  // gRPC answers the client itself (cancelled, or deadline exceeded)
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled before its job was submitted"));
        return;
      }
    }
    absl::StatusOr<Matrix> a = MatrixFromProto(req.a(), "A");
    absl::StatusOr<Matrix> b = a.ok() ? MatrixFromProto(req.b(), "B") : a.status();
    absl::StatusOr<CodeSpec> spec = b.ok() ? CodeSpecFromProto(req.strategy()) : b.status();
    if (!spec.ok()) {
      Finish(ToGrpc(spec.status()));
      return;
    }
    absl::StatusOr<JobId> id = pool_->Submit(
        *std::move(a), *std::move(b), *spec, [this](absl::StatusOr<JobResult> r) { Answer(std::move(r)); }, deadline);
    if (!id.ok()) {
      Finish(ToGrpc(id.status()));
      return;
    }
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      job_ = *id;
      cancelled = cancelled_;
    }
    if (cancelled) (void)pool_->Cancel(*id, "the client cancelled the call");
    // Otherwise the pool's work hook wakes the workers; Answer finishes.
  }

  // The job's callback: runs exactly once if Submit succeeded.
  void Answer(absl::StatusOr<JobResult> r) {
    if (!r.ok()) {
      Finish(ToGrpc(r.status()));
      return;
    }
    MatrixToProto(r->product, resp_->mutable_product());
    const JobStats& s = r->stats;
    v1::JobStats* out = resp_->mutable_stats();
    out->set_encode_seconds(s.encode_seconds);
    out->set_queue_seconds(s.queue_seconds);
    out->set_compute_seconds(s.compute_seconds);
    out->set_decode_seconds(s.decode_seconds);
    out->set_total_seconds(s.total_seconds);
    out->set_tasks_sent(s.tasks_sent);
    out->set_tasks_returned(s.tasks_returned);
    out->set_tasks_cancelled(s.tasks_cancelled);
    out->set_tasks_wasted(s.tasks_wasted);
    out->set_tasks_rejected(s.tasks_rejected);
    out->set_verify_seconds(s.verify_seconds);
    out->set_rows_wasted(s.rows_wasted);
    for (const auto& [w, n] : s.tasks_per_worker) {
      v1::WorkerCount* c = out->add_per_worker();
      c->set_worker_id(w);
      c->set_tasks(n);
      c->set_rows(s.rows_per_worker.count(w) ? s.rows_per_worker.at(w) : 0);
    }
    Finish(grpc::Status::OK);
  }

  ComputeService* const svc_;
  TaskPool* const pool_;
  v1::MultiplyResponse* const resp_;
  const std::function<void()> done_;
  std::atomic<int> refs_{2};  // OnDone and the admission
  absl::Mutex mu_;
  std::optional<JobId> job_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();  // the call's
};

ComputeService::ComputeService(TaskPool* pool, WorkerService* workers, std::string token, int max_jobs_per_client,
                               Clock* clock)
    : pool_(pool), workers_(workers), token_(std::move(token)), max_jobs_per_client_(max_jobs_per_client),
      clock_(clock) {}

ComputeService::~ComputeService() = default;  // admission_ answers what is queued, then joins

grpc::ServerUnaryReactor* ComputeService::Multiply(grpc::CallbackServerContext* ctx, const v1::MultiplyRequest* req,
                                                   v1::MultiplyResponse* resp) {
  if (grpc::Status st = CheckToken(ctx->client_metadata(), token_); !st.ok()) {
    Log().warn("refused a Multiply from {}: {}", ctx->peer(), st.error_message());
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(st);
    return reactor;
  }
  // The client is its host: every connection from it shares the limit.
  std::string client = ctx->peer();
  client = client.substr(0, client.rfind(':'));
  {
    absl::MutexLock lock(&clients_mu_);
    int& n = jobs_per_client_[client];
    if (n >= max_jobs_per_client_) {
      grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
      reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   absl::StrCat(n, " jobs of this client are in flight, the limit is ",
                                                max_jobs_per_client_, "; wait for one to finish")));
      return reactor;
    }
    ++n;
  }
  auto* call = new MultiplyCall(this, resp, [this, client] {
    absl::MutexLock lock(&clients_mu_);
    if (--jobs_per_client_[client] <= 0) jobs_per_client_.erase(client);
  });
  call->Start(ctx, req);
  return call;
}

grpc::ServerUnaryReactor* ComputeService::ClusterStatus(grpc::CallbackServerContext* ctx,
                                                        const v1::ClusterStatusRequest*,
                                                        v1::ClusterStatusResponse* resp) {
  if (grpc::Status st = CheckToken(ctx->client_metadata(), token_); !st.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(st);
    return reactor;
  }
  for (const auto& w : workers_->Workers()) {
    v1::WorkerStatus* s = resp->add_workers();
    s->set_worker_id(w.id);
    s->set_worker_name(w.name);
    s->set_credits(w.credits);
    s->set_tasks_done(w.results);
    s->set_macs_per_second(pool_->MacsPerSecond(w.id));
    s->set_faulty(pool_->IsFaulty(w.id));
    s->set_draining(w.draining);
    s->set_last_seen_unix_micros(absl::ToUnixMicros(w.last_seen));
  }
  resp->set_jobs_in_flight(pool_->jobs_in_flight());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace codedge
