#include "worker/client.h"

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "proto/wire.h"

namespace codedge {
namespace {

// Set by the reader when the server cancels a task; the compute thread
// watches `note`.
struct CancelToken {
  absl::Notification note;
  std::atomic<int64_t> sent_unix_micros{0};  // the server's send time, 0 if not from a Cancel
};

struct PendingTask {
  uint64_t job;
  int64_t task;
  WireMatrix rows;  // the bytes as they arrived, not copied
  std::shared_ptr<CancelToken> cancel;
};

// Tasks up to this many multiply-adds may run on the reading thread.
constexpr int64_t kInlineMacs = 4096;

// A job's B and what to compute with it (common/row_op.h), as JobData
// brought them.
struct JobOperand {
  Matrix b;
  RowOp op;
};

// State shared by a session's reader and compute threads.
struct Session {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<PendingTask> queue;                                           // guarded by mu
  std::map<uint64_t, std::shared_ptr<const JobOperand>> b;                 // guarded by mu
  std::map<std::pair<uint64_t, int64_t>, std::shared_ptr<CancelToken>> live;  // guarded by mu
  bool ended = false;                                                      // guarded by mu
  bool draining = false;  // drain acknowledged: the compute thread ends when the queue is empty (mu)
};

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace

absl::StatusOr<std::unique_ptr<WorkerClient>> WorkerClient::Create(const WorkerOptions& options) {
  // The server holds at most kMaxWorkerCredits per worker; more would sit unused.
  if (options.credits < 1 || options.credits > kMaxWorkerCredits) {
    return absl::InvalidArgumentError(
        absl::StrCat("--credits must be in [1, ", kMaxWorkerCredits, "], got ", options.credits));
  }
  if (options.fail_after < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--fail_after must be >= 0, got ", options.fail_after));
  }
  absl::StatusOr<TaskExecutor> ex = TaskExecutor::Create(options.exec);
  if (!ex.ok()) return ex.status();
  return std::unique_ptr<WorkerClient>(new WorkerClient(options, *ex));
}

WorkerClient::WorkerClient(const WorkerOptions& options, TaskExecutor executor)
    : options_(options), executor_(executor), delays_(options.delay, options.seed) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  // Liveness both ways: a vanished server is noticed within ~20 s.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 20);
  options.security.Apply(&args);
  stub_ = v1::Worker::NewStub(grpc::CreateCustomChannel(options.server, options.security.credentials, args));
}

absl::Status WorkerClient::Run(absl::Notification* stop, absl::Notification* drain) {
  absl::Duration backoff = options_.backoff_min;
  bool ever_welcomed = false, hinted = false;
  while (!stop->HasBeenNotified()) {
    bool welcomed = false;
    bool drained = false;
    absl::Status s = ServeOnce(stop, drain, &welcomed, &drained);
    ever_welcomed |= welcomed;
    if (drained) {
      Log().info("{}: drained: every task it held is done and sent; leaving", options_.name);
      return absl::OkStatus();
    }
    if (stop->HasBeenNotified() || (drain != nullptr && drain->HasBeenNotified())) break;
    if (!ever_welcomed && !hinted && s.code() == absl::StatusCode::kUnavailable &&
        absl::StrContains(s.message(), "Socket closed")) {
      // A connection closed during set-up is, most often, a TLS mismatch.
      hinted = true;
      Log().warn("{}: {} closed the connection during set-up: check the transport security ({}; the server's log "
                 "names the handshake error)",
                 options_.name, options_.server,
                 options_.security.plaintext ? "a TLS server refuses plaintext: connect with --tls_ca"
                                             : "a server that requires client certificates needs --tls_cert and "
                                               "--tls_key signed by its CA");
    } else if (!ever_welcomed && !hinted && !options_.security.plaintext &&
               absl::StrContains(absl::AsciiStrToLower(s.message()), "wrong version number")) {
      // Our TLS handshake was answered in plaintext.
      hinted = true;
      Log().warn("{}: {} does not answer in TLS: it is probably a plaintext server (--insecure); start it with "
                 "--tls_cert and --tls_key, or connect with --insecure",
                 options_.name, options_.server);
    }
    if (s.code() == absl::StatusCode::kFailedPrecondition || s.code() == absl::StatusCode::kUnauthenticated ||
        s.code() == absl::StatusCode::kPermissionDenied) {
      return s;  // refused: retrying will not help
    }
    if (welcomed) backoff = options_.backoff_min;
    Log().info("{}: stream to {} ended ({}); reconnecting in {}", options_.name, options_.server, s.ToString(),
               absl::FormatDuration(backoff));
    if (stop->WaitForNotificationWithTimeout(backoff)) break;
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
  return absl::OkStatus();
}

absl::Status WorkerClient::ServeOnce(absl::Notification* stop, absl::Notification* drain, bool* welcomed,
                                     bool* drained) {
  grpc::ClientContext ctx;
  options_.security.Apply(&ctx);
  std::unique_ptr<grpc::ClientReaderWriter<v1::WorkerMessage, v1::ServerMessage>> stream = stub_->Connect(&ctx);
  absl::Notification done, greeted;
  std::atomic<bool> welcome_late{false};
  // Cancels the stream when the worker is asked to stop, or when no Welcome
  // came in time.
  std::thread watcher([&] {
    const absl::Time welcome_by = absl::Now() + options_.welcome_timeout;
    while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(20))) {
      if (stop->HasBeenNotified()) {
        ctx.TryCancel();
        return;
      }
      if (!greeted.HasBeenNotified() && absl::Now() > welcome_by) {
        welcome_late = true;
        ctx.TryCancel();
        return;
      }
    }
  });
  // `ours`: we end the stream on an error of our own, so cancel it rather
  // than wait for the server to drain messages nobody will read.
  bool writes_done = false;  // set (under write_mu, once the writers exist) when a drain closed our side
  auto finish = [&](absl::Status why, bool ours = true) {
    done.Notify();
    watcher.join();
    if (ours) ctx.TryCancel();
    if (!writes_done) stream->WritesDone();
    grpc::Status st = stream->Finish();
    // Our own reason, not the CANCELLED our TryCancel caused.
    return st.ok() || ours ? why : FromGrpc(st);
  };

  v1::WorkerMessage hello;
  hello.mutable_hello()->set_version(v1::PROTOCOL_VERSION_3);
  hello.mutable_hello()->set_worker_name(options_.name);
  hello.mutable_hello()->set_threads(options_.threads);
#if defined(__aarch64__)
  hello.mutable_hello()->set_arch("aarch64");
#else
  hello.mutable_hello()->set_arch("x86_64");
#endif
  v1::ServerMessage in;
  if (!stream->Write(hello) || !stream->Read(&in)) {
    if (welcome_late) {
      return finish(absl::DeadlineExceededError(absl::StrCat(options_.server, " sent no welcome in ",
                                                             absl::FormatDuration(options_.welcome_timeout))));
    }
    return finish(absl::UnavailableError("no welcome"), /*ours=*/false);
  }
  greeted.Notify();
  if (in.msg_case() != v1::ServerMessage::kWelcome) {
    return finish(absl::InternalError("first server message was not a welcome"));
  }
  *welcomed = true;
  Log().info("{}: connected to {} as worker {}", options_.name, options_.server, in.welcome().worker_id());
  v1::WorkerMessage ready;
  ready.mutable_ready()->set_credits(options_.credits);
  if (!stream->Write(ready)) return finish(absl::UnavailableError("stream closed"), /*ours=*/false);

  Session session;
  // From here on two threads write (compute: results and credits; heartbeat):
  // one Write at a time, under write_mu.
  std::mutex write_mu;
  auto write = [&](const v1::WorkerMessage& m) {
    std::lock_guard<std::mutex> lock(write_mu);
    return !writes_done && stream->Write(m);  // nothing after a drain's WritesDone
  };
  absl::Notification heartbeats_done;
  const absl::Duration hb_every = absl::Milliseconds(in.welcome().heartbeat_interval_ms());
  std::thread heartbeat([&] {
    if (hb_every <= absl::ZeroDuration()) return;  // the server asked for none
    v1::WorkerMessage hb;
    while (!heartbeats_done.WaitForNotificationWithTimeout(hb_every)) {
      hb.mutable_heartbeat()->set_unix_micros(absl::ToUnixMicros(absl::Now()));
      if (!write(hb)) return;
    }
  });
  // Asks for a drain when `drain` is notified (the reader sees the ack).
  std::thread drainer([&] {
    if (drain == nullptr) return;
    while (!heartbeats_done.WaitForNotificationWithTimeout(absl::Milliseconds(20))) {
      if (!drain->HasBeenNotified()) continue;
      Log().info("{}: draining: asking {} for no more tasks", options_.name, options_.server);
      v1::WorkerMessage m;
      m.mutable_drain();
      (void)write(m);
      return;
    }
  });
  // Runs one task and answers the server; false when the stream is gone.
  // `delayed_jobs` (DelayScope::kJob): jobs whose delay was applied; null for
  // a task run inline (never delayed: see may_inline).
  auto process = [&](PendingTask& t, const std::shared_ptr<const JobOperand>& b, std::set<uint64_t>* delayed_jobs) {
    v1::WorkerMessage out;
    absl::StatusOr<ExecResult> r = absl::CancelledError("cancelled while queued");
    // A float product is computed straight into the bytes of the result
    // message (no copy of a matrix into it afterwards).
    float* product = nullptr;
    int64_t product_rows = 0, product_cols = 0;
    if (!t.cancel->note.HasBeenNotified()) {
      if (b == nullptr) {
        r = absl::FailedPreconditionError(absl::StrCat("no B for job ", t.job));
      } else {
        absl::Duration delay = absl::ZeroDuration();
        if (options_.delay_scope == WorkerOptions::DelayScope::kTask ||
            (delayed_jobs != nullptr && delayed_jobs->insert(t.job).second)) {
          delay = delays_.Next();
        }
        if (t.rows.field() && !b->op.plain()) {
          r = absl::InvalidArgumentError(absl::StrCat("a field task for job ", t.job, " under ", b->op.ToString()));
        } else if (t.rows.field()) {
          r = executor_.RunField(t.rows.field_view(), b->b, delay, &t.cancel->note);
        } else if (static_cast<double>(t.rows.rows()) * static_cast<double>(b->op.OutCols(b->b.cols())) >
                   std::min(static_cast<double>(kMaxWireElements),
                            (static_cast<double>(options_.max_message_bytes) - 4096) / sizeof(float))) {
          r = absl::InvalidArgumentError(absl::StrCat("task ", t.task, " of job ", t.job, ": a result of ",
                                                      t.rows.rows(), " rows of ", b->op.OutCols(b->b.cols()),
                                                      " values is more than one message may carry"));
        } else {
          product_rows = t.rows.rows();
          product_cols = b->op.OutCols(b->b.cols());
          v1::MatrixProto* m = out.mutable_result()->mutable_product();
          m->set_rows(product_rows);
          m->set_cols(product_cols);
          std::string* bytes = m->mutable_data();
          bytes->resize(static_cast<size_t>(product_rows * product_cols) * sizeof(float));
          product = reinterpret_cast<float*>(bytes->data());
          r = executor_.RunInto(t.rows.view(), b->b, delay, &t.cancel->note,
                                Eigen::Map<Matrix>(product, product_rows, product_cols), b->op);
        }
      }
    }
    {
      std::lock_guard<std::mutex> lock(session.mu);
      session.live.erase({t.job, t.task});
    }
    if (r.ok()) {
      v1::TaskResult* res = out.mutable_result();
      res->set_job_id(t.job);
      res->set_task_id(t.task);
      // Compute as the device does it (slowdown and row-time emulation
      // included: they stand for a slower device); the delay apart.
      res->set_compute_seconds(r->busy_seconds());
      res->set_delay_seconds(r->delay_seconds);
      if (options_.corrupt_results > 0 && t.rows.field()) {
        Pcg32 rng(MixSeed(options_.seed, corrupt_draws_++), 0x636f7272);  // "corr"
        if (rng.UniformDouble() < options_.corrupt_results && r->field_product.size() > 0) {
          uint64_t& x = r->field_product(rng.UniformInt(static_cast<uint32_t>(r->field_product.rows())),
                                         rng.UniformInt(static_cast<uint32_t>(r->field_product.cols())));
          x = (x + 1) % kFieldPrime;
        }
      } else if (options_.corrupt_results > 0) {
        Pcg32 rng(MixSeed(options_.seed, corrupt_draws_++), 0x636f7272);  // "corr"
        if (rng.UniformDouble() < options_.corrupt_results && product_rows * product_cols > 0) {
          Eigen::Map<Matrix> p(product, product_rows, product_cols);
          float& x = p(rng.UniformInt(static_cast<uint32_t>(product_rows)),
                       rng.UniformInt(static_cast<uint32_t>(product_cols)));
          x += 1.0f + std::abs(x);  // plausible, finite, wrong
          Log().debug("{}: corrupting the result of job {} task {} (--corrupt_results)", options_.name, t.job, t.task);
        }
      }
      if (t.rows.field()) FieldMatrixToProto(r->field_product, res->mutable_product());
      if (!write(out)) return false;
      const int64_t n = ++results_sent_;
      if (options_.fail_after > 0 && n >= options_.fail_after) {
        Log().warn("{}: --fail-after {} reached, exiting abruptly", options_.name, options_.fail_after);
        std::_Exit(3);
      }
    } else if (r.status().code() == absl::StatusCode::kCancelled) {
      tasks_cancelled_++;
      if (const int64_t sent = t.cancel->sent_unix_micros.load(); sent > 0) {
        const double latency = 1e-6 * static_cast<double>(absl::ToUnixMicros(absl::Now()) - sent);
        Log().debug("{}: job {} task {} cancelled, idle {:.2f} ms after the server sent the cancel", options_.name,
                    t.job, t.task, 1e3 * latency);
        std::lock_guard<std::mutex> lock(latency_mu_);
        if (cancel_latencies_.size() >= 100000) cancel_latencies_.erase(cancel_latencies_.begin());
        cancel_latencies_.push_back(latency);
      }
      out.mutable_ready()->set_credits(1);  // the slot is free again
      if (!write(out)) return false;
    } else {
      // Could not compute it: a result without a product tells the server
      // to re-issue the task elsewhere (TaskPool::OnTaskFailed) and returns
      // the credit.
      Log().warn("{}: job {} task {}: {}", options_.name, t.job, t.task, r.status().ToString());
      out.mutable_result()->clear_product();
      out.mutable_result()->set_job_id(t.job);
      out.mutable_result()->set_task_id(t.task);
      if (!write(out)) return false;
    }
    return true;
  };
  absl::Notification compute_done;  // every task received was finished during a drain
  std::thread compute([&] {
    std::set<uint64_t> delayed_jobs;
    for (;;) {
      PendingTask t;
      std::shared_ptr<const JobOperand> b;
      {
        std::unique_lock<std::mutex> lock(session.mu);
        session.cv.wait(lock, [&] { return session.ended || session.draining || !session.queue.empty(); });
        if (session.ended) return;
        if (session.draining && session.queue.empty()) {
          lock.unlock();
          compute_done.Notify();
          std::lock_guard<std::mutex> wlock(write_mu);
          writes_done = true;
          stream->WritesDone();  // the results are all written
          return;
        }
        t = std::move(session.queue.front());
        session.queue.pop_front();
        auto it = session.b.find(t.job);
        if (it != session.b.end()) b = it->second;
      }
      if (!process(t, b, &delayed_jobs)) return;
    }
  });

  absl::Status why = absl::UnavailableError("server closed the stream");
  bool ours = false;
  std::optional<PendingTask> partial;  // a task whose pieces are arriving
  // A tiny task (a few microseconds of compute, nothing injected) is run
  // right here when nothing is queued: handing it to the compute thread
  // would cost more in thread wake-ups than the product itself.
  const bool may_inline = options_.delay.kind == DelaySpec::Kind::kNone && options_.exec.slowdown == 1.0 &&
                          options_.exec.row_seconds == 0 && options_.fail_after == 0 &&
                          options_.corrupt_results == 0;
  bool stream_ok = true;
  auto enqueue = [&](PendingTask t) {
    t.cancel = std::make_shared<CancelToken>();
    std::shared_ptr<const JobOperand> b;
    {
      std::lock_guard<std::mutex> lock(session.mu);
      session.live[{t.job, t.task}] = t.cancel;
      auto it = session.b.find(t.job);
      const bool tiny = may_inline && !t.rows.field() && session.queue.empty() && it != session.b.end() &&
                        static_cast<double>(t.rows.rows()) *
                                static_cast<double>(it->second->op.MacsPerRow(t.rows.cols(), it->second->b.cols())) <=
                            kInlineMacs;
      if (!tiny) {
        session.queue.push_back(std::move(t));
        session.cv.notify_one();
        return;
      }
      b = it->second;
    }
    stream_ok = process(t, b, /*delayed_jobs=*/nullptr);
  };
  while (stream->Read(&in)) {
    if (in.msg_case() == v1::ServerMessage::kJobData) {
      absl::StatusOr<Matrix> b = MatrixFromProto(in.job_data().b(), "B");
      absl::StatusOr<RowOp> op = b.ok() ? RowOpFromProto(in.job_data().op()) : b.status();
      absl::Status s = op.status();
      if (s.ok()) s = CheckRowOp(*op, op->InCols(b->rows()), b->rows(), b->cols());
      if (!s.ok()) {
        why = absl::InvalidArgumentError(absl::StrCat("job ", in.job_data().job_id(), ": ", s.message()));
        ours = true;
        break;
      }
      std::lock_guard<std::mutex> lock(session.mu);
      session.b[in.job_data().job_id()] = std::make_shared<const JobOperand>(JobOperand{*std::move(b), *op});
    } else if (in.msg_case() == v1::ServerMessage::kTask) {
      v1::Task& task = *in.mutable_task();
      if (partial) {
        why = absl::InvalidArgumentError(absl::StrCat("task ", task.task_id(), " of job ", task.job_id(),
                                                      " began before task ", partial->task, " was complete"));
        ours = true;
        break;
      }
      // The server checked A; a non-finite value here could only come back
      // as a non-finite result, which the server rejects.
      absl::StatusOr<WireMatrix> rows = TakeMatrixFromProto(task.mutable_coded_rows(), "task rows", /*check_finite=*/false);
      absl::Status s = rows.status();
      if (s.ok() && task.total_rows() > rows->rows()) s = rows->Reserve(task.total_rows(), "task rows");
      if (!s.ok()) {
        why = s;
        ours = true;
        break;
      }
      if (rows->rows() < rows->capacity_rows()) {  // more pieces follow
        partial = PendingTask{task.job_id(), task.task_id(), *std::move(rows), nullptr};
        continue;
      }
      enqueue(PendingTask{task.job_id(), task.task_id(), *std::move(rows), nullptr});
      if (!stream_ok) break;
    } else if (in.msg_case() == v1::ServerMessage::kTaskPiece) {
      v1::TaskPiece& piece = *in.mutable_task_piece();
      absl::Status s;
      if (!partial || partial->job != piece.job_id() || partial->task != piece.task_id()) {
        s = absl::InvalidArgumentError(absl::StrCat("a piece of task ", piece.task_id(), " of job ", piece.job_id(),
                                                    " that is not being received"));
      } else {
        s = partial->rows.Append(piece.mutable_coded_rows(), "task piece", /*check_finite=*/false);
      }
      if (!s.ok()) {
        why = s;
        ours = true;
        break;
      }
      if (partial->rows.rows() == partial->rows.capacity_rows()) {
        enqueue(*std::move(partial));
        partial.reset();
      }
      if (!stream_ok) break;
    } else if (in.msg_case() == v1::ServerMessage::kCancel) {
      const v1::Cancel& c = in.cancel();
      // A task still arriving is dropped (the server sends no more pieces);
      // its slot is free again, as for a cancelled task in the queue.
      if (partial && partial->job == c.job_id() && (c.task_id() < 0 || partial->task == c.task_id())) {
        partial.reset();
        tasks_cancelled_++;
        v1::WorkerMessage ready;
        ready.mutable_ready()->set_credits(1);
        if (!write(ready)) break;
      }
      std::lock_guard<std::mutex> lock(session.mu);
      for (auto& [key, token] : session.live) {
        if (key.first == c.job_id() && (c.task_id() < 0 || key.second == c.task_id()) &&
            !token->note.HasBeenNotified()) {
          token->sent_unix_micros.store(c.sent_unix_micros());
          token->note.Notify();
        }
      }
      if (c.task_id() < 0) session.b.erase(c.job_id());  // the job is over
    } else if (in.msg_case() == v1::ServerMessage::kDrainAck) {
      // No task follows (every piece came before the ack): the compute
      // thread finishes the queue, then closes our side of the stream; the
      // server then ends it, which ends this loop. Cancels are still read.
      *drained = true;
      {
        std::lock_guard<std::mutex> lock(session.mu);
        session.draining = true;
      }
      session.cv.notify_all();
    }
  }
  if (*drained && compute_done.HasBeenNotified()) {
    why = absl::OkStatus();  // drained, not cut short
  } else if (*drained) {
    *drained = false;  // the stream ended before the queue was done: the server re-issues the rest
    Log().warn("{}: the drain was cut short ({}); the server re-issues the unfinished tasks", options_.name,
               why.ToString());
  }
  {
    std::lock_guard<std::mutex> lock(session.mu);
    session.ended = true;
    for (auto& [key, token] : session.live)
      if (!token->note.HasBeenNotified()) token->note.Notify();
  }
  session.cv.notify_all();
  // Our own error ends the stream now: a write that is waiting for the
  // server to read (a large result) must fail rather than hold these joins.
  if (ours) ctx.TryCancel();
  compute.join();
  heartbeats_done.Notify();
  heartbeat.join();
  drainer.join();
  return finish(why, ours);
}

std::vector<double> WorkerClient::cancel_latencies() const {
  std::lock_guard<std::mutex> lock(latency_mu_);
  return cancel_latencies_;
}

}  // namespace codedge
