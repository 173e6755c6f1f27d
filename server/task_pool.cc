#include "server/task_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "codes/verify.h"
#include "common/logging.h"
#include "common/status.h"

namespace codedge {

absl::StatusOr<JobId> TaskPool::Submit(Matrix a, Matrix b, const CodeSpec& spec, JobCallback done,
                                       absl::Time deadline, const RowOp& op) {
  if (a.rows() < 1 || a.cols() < 1 || b.rows() < 1 || b.cols() < 1) {
    return absl::InvalidArgumentError(absl::StrCat("empty matrix: A is ", a.rows(), "x", a.cols(), ", B is ",
                                                   b.rows(), "x", b.cols()));
  }
  if (absl::Status s = CheckRowOp(op, a.cols(), b.rows(), b.cols()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("A is ", a.rows(), "x", a.cols(), ": ", s.message()));
  }
  if (!op.plain() && spec.strategy == Strategy::kPrivate) {
    return absl::InvalidArgumentError(
        absl::StrCat("the private strategy computes plain products only, not ", op.ToString()));
  }
  const int64_t a_rows = a.rows(), a_cols = a.cols(), b_cols = b.cols();
  const absl::Time submitted = clock_->Now();  // before a private job's encoding, which counts
  std::shared_ptr<Job> job;
  if (spec.strategy == Strategy::kPrivate) {
    ASSIGN_OR_RETURN(job, NewPrivateJob(a, b, spec));
  } else {
    ASSIGN_OR_RETURN(std::unique_ptr<Code> code, MakeCode(spec, a.rows()));
    if (code->num_tasks() && *code->num_tasks() > kMaxTasks) {
      return absl::InvalidArgumentError(absl::StrCat(code->name(), " has ", *code->num_tasks(), " tasks; at most ",
                                                     kMaxTasks, " per job"));
    }
    // A task larger than A (LT with huge symbols_per_task) only wastes memory.
    if (code->symbols_per_task() * code->layout().symbol_rows > 2 * a.rows() + 64) {
      return absl::InvalidArgumentError(absl::StrCat(code->name(), ": a task would have ",
                                                     code->symbols_per_task() * code->layout().symbol_rows,
                                                     " rows, more than A's ", a.rows()));
    }
    job = std::make_shared<Job>();
    job->code = std::move(code);
    job->a = std::move(a);
    job->b = std::make_shared<const Matrix>(std::move(b));
    job->decoder = job->code->NewDecoder();
    if (job->code->variable_task_sizes() && spec.strategy == Strategy::kLt) job->task_seconds = spec.lt.task_seconds;
  }
  job->op = op;
  job->out_cols = op.OutCols(b_cols);
  job->macs_per_row =
      static_cast<double>(std::max<int64_t>(1, op.MacsPerRow(a_cols, b_cols)) * (job->priv ? kFieldMacCost : 1));
  job->done = std::move(done);
  job->submitted = submitted;
  job->deadline = deadline;
  job->speculative = spec.strategy == Strategy::kSpeculative;
  if (auto n = NumTasks(*job)) {
    job->queue.reserve(*n);
    for (int64_t t = 0; t < *n; ++t) job->queue.push_back(t);
  }
  std::function<void()> hook;
  JobId id;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::UnavailableError("the edge server is shutting down: no new jobs");
    id = job->id = next_job_++;
    jobs_[job->id] = job;
    hook = work_hook_;
  }
  Log().debug("job {} submitted: {}x{} . {}x{}{}, {}", id, a_rows, a_cols, job->b->rows(), job->b->cols(),
              op.plain() ? "" : absl::StrCat(" (", op.ToString(), ")"), CodeName(*job));
  if (hook) hook();
  return id;
}

absl::StatusOr<std::shared_ptr<TaskPool::Job>> TaskPool::NewPrivateJob(const Matrix& a, const Matrix& b,
                                                                       const CodeSpec& spec) {
  ASSIGN_OR_RETURN(PrivateCode code, PrivateCode::Create(spec.priv, a.rows(), a.cols()));
  if (code.params().n > kMaxTasks) {
    return absl::InvalidArgumentError(absl::StrCat("private code with n = ", code.params().n, " tasks; at most ",
                                                   kMaxTasks, " per job"));
  }
  const absl::Time start = clock_->Now();
  ASSIGN_OR_RETURN(Quantized q, Quantize(a, b, spec.priv.bits));
  auto job = std::make_shared<Job>();
  // The masks come from OpenSSL's generator (codes/private_code.h).
  std::vector<FieldMatrix> blocks = code.Encode(q.a);
  q.a = QuantMatrix();
  // B as small integers: exact in float32 (|B_q| < 2^15).
  job->b = std::make_shared<const Matrix>(q.b.cast<float>());
  job->priv = std::make_unique<PrivateJob>(PrivateJob{std::move(code), std::move(q), {}, {}, {}, {}});
  for (FieldMatrix& block : blocks) job->priv->blocks.push_back(std::make_shared<const FieldMatrix>(std::move(block)));
  job->stats.encode_seconds = absl::ToDoubleSeconds(clock_->Now() - start);
  return job;
}

std::optional<int64_t> TaskPool::NumTasks(const Job& job) {
  if (job.priv) return job.priv->code.params().n;
  return job.code->num_tasks();
}

std::string TaskPool::CodeName(const Job& job) {
  if (job.priv) {
    const PrivateParams& p = job.priv->code.params();
    return absl::StrCat("private(k=", p.k, ",t=", p.t, ",n=", p.n, ",bits=", p.bits, ")");
  }
  return job.code->name();
}

void TaskPool::SetWorkHook(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  work_hook_ = std::move(hook);
}

void TaskPool::SetCancelHook(std::function<void(const std::vector<CancelOrder>&)> hook) {
  absl::MutexLock lock(&mu_);
  cancel_hook_ = std::move(hook);
}

void TaskPool::DeliverCancels(const std::vector<CancelOrder>& cancels) {
  if (cancels.empty()) return;
  std::function<void(const std::vector<CancelOrder>&)> hook;
  {
    absl::MutexLock lock(&mu_);
    hook = cancel_hook_;
  }
  if (hook) hook(cancels);
}

void TaskPool::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

std::optional<std::pair<int64_t, bool>> TaskPool::PickTask(Job& job, WorkerId worker) {
  // T-private: at most t shares of A per worker, ever.
  if (job.priv && job.priv->handed[worker] >= job.priv->code.params().t) return std::nullopt;
  while (job.queue_head < job.queue.size()) {
    const int64_t t = job.queue[job.queue_head++];
    if (job.returned.contains(t)) continue;
    if (job.priv) job.priv->handed[worker]++;
    return std::make_pair(t, false);
  }
  if (job.priv) return std::nullopt;
  if (!NumTasks(job)) {  // rateless: a new task, sized to this worker if asked
    const int64_t id = job.next_new_task++;
    if (job.task_seconds > 0) {
      const SourceLayout& l = job.code->layout();
      // Never fewer rows than the worker computes together anyway
      // (RowOp::MinChunkRows: a weight gradient's channels), whether its
      // speed is known or not.
      const int64_t fewest =
          std::min<int64_t>(l.num_symbols, (job.op.MinChunkRows() + l.symbol_rows - 1) / l.symbol_rows);
      int64_t n = std::max<int64_t>(job.code->symbols_per_task(), fewest);
      if (auto r = macs_per_second_.find(worker); r != macs_per_second_.end()) {
        // At most an eighth of k per task: a fast worker takes big tasks,
        // but never the whole job in a few pieces (the last one, which the
        // decoder waits for, would be long; a quarter of k was 2-6 % slower
        // in edge-bench train, BENCHMARKS.md session 8).
        // Slow start: a worker's first tasks of a job are a quarter and a
        // half of the size (a straggler's are encoded for nothing, and the
        // first result comes back sooner).
        const int handed = job.rateless_handed[worker]++;
        const double ramp = handed >= 2 ? 1.0 : handed == 1 ? 0.5 : 0.25;
        const double rows = ramp * r->second * job.task_seconds / job.macs_per_row;
        n = std::clamp<int64_t>(static_cast<int64_t>(rows / static_cast<double>(l.symbol_rows)), fewest,
                                std::max<int64_t>(n, l.num_symbols / 8));
      }
      job.ranges[id] = {job.next_symbol, n};
      job.next_symbol += n;
    }
    return std::make_pair(id, false);
  }
  if (job.speculative) {
    // The oldest outstanding task with a single holder that is not this
    // worker gets a second copy (Spark/Hadoop speculative execution).
    for (auto it = job.outstanding.begin(); it != job.outstanding.end();) {
      const int64_t t = it->first;
      const size_t holders = job.outstanding.count(t);
      if (holders == 1 && it->second.worker != worker && !job.returned.contains(t)) return std::make_pair(t, true);
      it = job.outstanding.upper_bound(t);
    }
  }
  return std::nullopt;
}

void TaskPool::SetVerifyResults(bool on, uint64_t seed) {
  absl::MutexLock lock(&mu_);
  verify_ = on;
  verify_seed_ = seed;
}

bool TaskPool::IsFaulty(WorkerId worker) const {
  absl::MutexLock lock(&mu_);
  return faulty_.contains(worker);
}

JobStats& JobStats::operator+=(const JobStats& o) {
  encode_seconds += o.encode_seconds;
  queue_seconds += o.queue_seconds;
  compute_seconds += o.compute_seconds;
  decode_seconds += o.decode_seconds;
  total_seconds += o.total_seconds;
  verify_seconds += o.verify_seconds;
  tasks_sent += o.tasks_sent;
  tasks_returned += o.tasks_returned;
  tasks_cancelled += o.tasks_cancelled;
  tasks_wasted += o.tasks_wasted;
  rows_wasted += o.rows_wasted;
  tasks_rejected += o.tasks_rejected;
  for (const auto& [w, n] : o.tasks_per_worker) tasks_per_worker[w] += n;
  for (const auto& [w, n] : o.rows_per_worker) rows_per_worker[w] += n;
  return *this;
}

double TaskPool::MacsPerSecond(WorkerId worker) const {
  absl::MutexLock lock(&mu_);
  auto it = macs_per_second_.find(worker);
  return it == macs_per_second_.end() ? 0.0 : it->second;
}

std::optional<Assignment> TaskPool::NextTask(WorkerId worker) {
  for (;;) {
    std::shared_ptr<Job> job;
    Assignment out;
    std::optional<std::pair<int64_t, int64_t>> range;  // sized rateless task: (first symbol, count)
    {
      absl::MutexLock lock(&mu_);
      if (faulty_.contains(worker)) return std::nullopt;  // it returned a wrong result
      for (auto& [id, j] : jobs_) {
        if (j->finished) continue;
        auto pick = PickTask(*j, worker);
        if (!pick) continue;
        job = j;
        out.job = id;
        out.task = pick->first;
        if (auto r = j->ranges.find(pick->first); r != j->ranges.end()) range = r->second;
        j->outstanding.emplace(pick->first, Outstanding{worker, pick->second, clock_->Now()});
        j->stats.tasks_sent++;
        if (!j->started) {
          j->started = true;
          j->stats.queue_seconds = absl::ToDoubleSeconds(clock_->Now() - j->submitted);
        }
        if (j->has_b.insert(worker).second) out.b = j->b;
        out.op = j->op;
        break;
      }
    }
    if (!job) return std::nullopt;
    if (job->priv) {  // encoded at submission; the blocks never change
      const std::shared_ptr<const FieldMatrix>& block = job->priv->blocks[out.task];
      out.field_data = block->data();
      out.rows = block->rows();
      out.cols = block->cols();
      out.owner = block;
      return out;
    }
    // Encode outside the lock: the code and A are immutable once submitted.
    const absl::Time start = clock_->Now();
    absl::StatusOr<TaskSpec> spec = range ? job->code->TaskOfSymbols(out.task, range->first, range->second)
                                          : job->code->Task(out.task);
    std::optional<std::pair<int64_t, int64_t>> block;
    if (spec.ok()) block = job->code->PlainBlock(*spec);
    absl::StatusOr<Matrix> coded = !spec.ok() ? absl::StatusOr<Matrix>(spec.status())
                                   : block    ? Matrix()
                                              : job->code->Encode(*spec, job->a);
    auto shared_spec = spec.ok() ? std::make_shared<const TaskSpec>(*std::move(spec)) : nullptr;
    const double seconds = absl::ToDoubleSeconds(clock_->Now() - start);
    JobCallback failed_done;  // set if this job must fail (called unlocked)
    std::vector<CancelOrder> failed_cancels;
    {
      absl::MutexLock lock(&mu_);
      job->stats.encode_seconds += seconds;
      if (coded.ok() && !job->finished) {
        job->specs.emplace(out.task, std::move(shared_spec));
        out.cols = job->a.cols();
        if (block) {
          out.owner = job;
          out.data = job->a.data() + block->first * out.cols;
          out.rows = block->second - block->first;
        } else {
          auto m = std::make_shared<const Matrix>(*std::move(coded));
          out.data = m->data();
          out.rows = m->rows();
          if (verify_) job->coded_blocks[out.task] = m;
          out.owner = std::move(m);
        }
        return out;
      }
      // Undo the hand-out (B was not sent either) and look again.
      Release(*job, out.task, worker);
      job->stats.tasks_sent--;
      if (out.b) job->has_b.erase(worker);
      if (!coded.ok() && !job->finished) {
        // Cannot happen for a code that was built successfully; fail the job
        // rather than loop on it.
        Log().error("job {} task {}: encoding failed: {}", out.job, out.task, coded.status().ToString());
        job->finished = true;
        failed_cancels = CancelAll(*job);
        failed_done = std::move(job->done);
        jobs_.erase(out.job);
      }
    }
    DeliverCancels(failed_cancels);  // a failed job's other tasks stop, and its B is dropped
    if (failed_done) failed_done(coded.status());
  }
}

bool TaskPool::Release(Job& job, int64_t task, WorkerId worker) {
  for (auto it = job.outstanding.lower_bound(task); it != job.outstanding.upper_bound(task); ++it) {
    if (it->second.worker == worker) {
      job.outstanding.erase(it);
      return true;
    }
  }
  return false;
}

void TaskPool::Requeue(Job& job, int64_t task) {
  if (NumTasks(job) && !job.returned.contains(task) && job.outstanding.count(task) == 0) {
    job.queue.push_back(task);
  }
}

absl::Status TaskPool::OnTaskFailed(WorkerId worker, JobId job_id, int64_t task) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second->finished) {
    return absl::NotFoundError(absl::StrCat("job ", job_id, " is unknown or already finished"));
  }
  Job& job = *it->second;
  if (!Release(job, task, worker)) {
    return absl::FailedPreconditionError(
        absl::StrCat("worker ", worker, " does not hold task ", task, " of job ", job_id));
  }
  Requeue(job, task);
  ForgetIfRateless(job, task);
  return absl::OkStatus();
}

void TaskPool::ForgetIfRateless(Job& job, int64_t task) {
  if (NumTasks(job) || job.outstanding.count(task) > 0) return;
  job.specs.erase(task);
  job.coded_blocks.erase(task);
}

std::vector<CancelOrder> TaskPool::CancelAll(Job& job) {
  std::vector<CancelOrder> cancels;
  for (const auto& [task, holder] : job.outstanding) {
    cancels.push_back(CancelOrder{holder.worker, job.id, task});
    job.stats.tasks_cancelled++;
  }
  job.outstanding.clear();
  // Every worker that holds B may drop it now (task -1: the whole job).
  for (WorkerId w : job.has_b) cancels.push_back(CancelOrder{w, job.id, -1});
  return cancels;
}

absl::StatusOr<std::vector<CancelOrder>> TaskPool::OnResult(WorkerId worker, JobId job_id, int64_t task,
                                                            Matrix result, double compute_seconds,
                                                            double delay_seconds) {
  return AcceptResult(worker, job_id, task, &result, nullptr, compute_seconds, delay_seconds);
}

absl::StatusOr<std::vector<CancelOrder>> TaskPool::OnFieldResult(WorkerId worker, JobId job_id, int64_t task,
                                                                 FieldMatrix result, double compute_seconds,
                                                                 double delay_seconds) {
  return AcceptResult(worker, job_id, task, nullptr, &result, compute_seconds, delay_seconds);
}

bool TaskPool::Holds(WorkerId worker, JobId job_id, int64_t task) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second->finished) return false;
  const Job& job = *it->second;
  for (auto o = job.outstanding.lower_bound(task); o != job.outstanding.upper_bound(task); ++o) {
    if (o->second.worker == worker) return true;
  }
  return false;
}

void TaskPool::ForgetB(WorkerId worker, JobId job_id) {
  absl::MutexLock lock(&mu_);
  if (auto it = jobs_.find(job_id); it != jobs_.end()) it->second->has_b.erase(worker);
}

absl::StatusOr<std::vector<CancelOrder>> TaskPool::AcceptResult(WorkerId worker, JobId job_id, int64_t task,
                                                                Matrix* result, FieldMatrix* field_result,
                                                                double compute_seconds, double delay_seconds) {
  const int64_t result_rows = result ? result->rows() : field_result->rows();
  std::shared_ptr<Job> job;
  std::shared_ptr<const TaskSpec> spec;  // as generated for encoding
  std::vector<CancelOrder> cancels;
  double round_trip = 0;                 // hand-out -> this result
  bool verify = false;
  std::shared_ptr<const Matrix> coded_block;  // with verification: the encoded rows sent
  Pcg32 verify_rng(1, 1);
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end() || it->second->finished) {
      return absl::NotFoundError(absl::StrCat("job ", job_id, " is unknown or already finished"));
    }
    job = it->second;
    for (auto o = job->outstanding.lower_bound(task); o != job->outstanding.upper_bound(task); ++o) {
      // Hand-out to now: the server's own queueing counts, as the rest of
      // the round trip does (sizing from the arrival time alone made tasks
      // larger, and LT training without stragglers ~17 % slower).
      if (o->second.worker == worker) round_trip = absl::ToDoubleSeconds(clock_->Now() - o->second.sent);
    }
    if (job->cancelled_copies.erase({task, worker}) > 0) {
      // A copy that lost the race to another's result (speculation): the
      // work was done for nothing.
      job->stats.tasks_returned++;
      job->stats.tasks_wasted++;
      job->stats.rows_wasted += result_rows;
      return cancels;
    }
    if (!Release(*job, task, worker)) {
      return absl::FailedPreconditionError(
          absl::StrCat("worker ", worker, " does not hold task ", task, " of job ", job_id));
    }
    if (faulty_.contains(worker)) {
      // Sent before its ban took effect: not trusted, not checked again; the
      // task goes to someone else.
      Requeue(*job, task);
      ForgetIfRateless(*job, task);
      return absl::PermissionDeniedError(
          absl::StrCat("worker ", worker, " returned a wrong result before: its result for job ", job_id, " task ",
                       task, " is ignored"));
    }
    if ((job->priv != nullptr) != (field_result != nullptr)) {
      Requeue(*job, task);
      return absl::InvalidArgumentError(absl::StrCat("job ", job_id, " task ", task, ": ",
                                                     field_result ? "field elements" : "float32 values",
                                                     " for a ", job->priv ? "T-private" : "float", " job"));
    }
    job->stats.tasks_returned++;
    if (auto sp = job->specs.find(task); sp != job->specs.end()) spec = sp->second;
    if (job->returned.contains(task)) {  // a speculative copy lost the race
      job->stats.tasks_wasted++;
      job->stats.rows_wasted += result_rows;
      return cancels;
    }
    job->returned.insert(task);
    if (verify_ && ((spec && result) || (job->priv && field_result))) {
      if (auto c = job->coded_blocks.find(task); c != job->coded_blocks.end()) coded_block = c->second;
      verify_rng = Pcg32(MixSeed(verify_seed_, verify_count_++), 0x76);  // "v"
      verify = true;
    }
  }

  if (verify) {
    // Freivalds' check outside the lock: against the rows the worker was
    // sent (the encoded block, or A's rows for a plain one) and B.
    const absl::Time start = clock_->Now();
    absl::Status check;
    if (job->priv) {
      check = FieldFreivaldsCheck(*job->priv->blocks[task], job->priv->q.b, *field_result, verify_rng);
    } else if (coded_block) {
      check = FreivaldsCheck(*coded_block, *job->b, *result, verify_rng, 1e-3, job->op);
    } else if (auto block = job->code->PlainBlock(*spec)) {
      check = FreivaldsCheck(job->a.middleRows(block->first, block->second - block->first), *job->b, *result,
                             verify_rng, 1e-3, job->op);
    } else {
      check = absl::InternalError("no rows kept to verify this result against");
    }
    const double seconds = absl::ToDoubleSeconds(clock_->Now() - start);
    absl::MutexLock lock(&mu_);
    job->stats.verify_seconds += seconds;
    if (!check.ok()) {
      job->stats.tasks_rejected++;
      job->returned.erase(task);
      Requeue(*job, task);  // fixed-rate codes: someone else redoes it
      faulty_.insert(worker);
      return absl::PermissionDeniedError(absl::StrCat("worker ", worker, " returned a wrong result for job ", job_id,
                                                      " task ", task, " (", check.message(),
                                                      "); it gets no more tasks"));
    }
  }

  // Decode outside the pool lock, one result of this job at a time. The
  // result's accounting below runs under decode_mu too, so a result added to
  // the decoder is counted before a later one can finish the job and copy its
  // statistics (with two work threads, one that was decoded first could
  // otherwise be counted after the job was over: per-worker rows then summed
  // to less than A's).
  absl::StatusOr<Matrix> product = absl::UnavailableError("not decodable yet");
  bool finished_now = false;
  double decode_seconds = 0;
  absl::Status bad;
  JobCallback done;
  absl::StatusOr<JobResult> outcome = absl::UnknownError("unset");
  {
    absl::MutexLock decoding(&job->decode_mu);
    const absl::Time start = clock_->Now();
    if (PrivateJob* priv = job->priv.get()) {
      const int64_t want_rows = priv->code.block_rows(), want_cols = job->b->cols();
      if (field_result->rows() != want_rows || field_result->cols() != want_cols) {
        bad = absl::InvalidArgumentError(absl::StrCat("a ", field_result->rows(), "x", field_result->cols(),
                                                      " result for a task whose product is ", want_rows, "x",
                                                      want_cols));
      } else if (!job->decoded) {
        priv->ids.push_back(task);
        priv->results.push_back(std::move(*field_result));
        if (static_cast<int64_t>(priv->ids.size()) >= priv->code.recovery_threshold()) {
          job->decoded = true;
          finished_now = true;
          product = priv->code.DecodeProduct(priv->ids, priv->results, priv->q);
          priv->results.clear();
        }
      }
    } else if (result->cols() != job->out_cols) {
      bad = absl::InvalidArgumentError(absl::StrCat("a ", result->rows(), "x", result->cols(),
                                                    " result for a product of ", job->out_cols, " columns"));
    } else {
      absl::StatusOr<DecodeState> st = spec ? job->decoder->Add(*spec, *result) : job->decoder->Add(task, *result);
      if (!st.ok()) {
        bad = st.status();
      } else if (*st == DecodeState::kDecodable && !job->decoded) {
        job->decoded = true;
        finished_now = true;
        product = job->decoder->Decode();
      }
    }
    decode_seconds = absl::ToDoubleSeconds(clock_->Now() - start);

    absl::MutexLock lock(&mu_);
    job->stats.decode_seconds += decode_seconds;
    if (!bad.ok()) {
      job->returned.erase(task);
      Requeue(*job, task);  // fixed-rate codes: someone must redo it
      return absl::InvalidArgumentError(absl::StrCat("job ", job_id, " task ", task, ": ", bad.message()));
    }
    if (job->finished) return cancels;  // expired meanwhile
    job->specs.erase(task);
    job->coded_blocks.erase(task);
    // The first good result of a task cancels its other copies.
    for (auto o = job->outstanding.lower_bound(task); o != job->outstanding.upper_bound(task);) {
      cancels.push_back(CancelOrder{o->second.worker, job_id, task});
      job->cancelled_copies.insert({task, o->second.worker});
      job->stats.tasks_cancelled++;
      o = job->outstanding.erase(o);
    }
    job->stats.tasks_per_worker[worker]++;
    job->stats.rows_per_worker[worker] += result_rows;
    job->stats.compute_seconds += compute_seconds;
    if (const double busy = std::max(compute_seconds, round_trip - delay_seconds); busy > 0) {
      // This worker's speed, for sizing its next rateless tasks.
      const double rate = static_cast<double>(result_rows) * job->macs_per_row / busy;
      auto [it, fresh] = macs_per_second_.emplace(worker, rate);
      if (!fresh) it->second = 0.5 * it->second + 0.5 * rate;
    }
    if (finished_now) {
      job->finished = true;
      std::vector<CancelOrder> rest = CancelAll(*job);
      cancels.insert(cancels.end(), rest.begin(), rest.end());
      job->stats.total_seconds = absl::ToDoubleSeconds(clock_->Now() - job->submitted);
      done = std::move(job->done);
      if (product.ok()) {
        outcome = JobResult{*std::move(product), job->stats};
      } else {
        outcome = product.status();
      }
      jobs_.erase(job_id);
    }
  }
  if (!done) {  // not finished by this result; it may still cancel other copies
    DeliverCancels(cancels);
    return cancels;
  }
  Log().debug("job {} done in {:.3f} s: {} tasks sent, {} cancelled", job_id, outcome.ok() ? outcome->stats.total_seconds : 0.0,
              outcome.ok() ? outcome->stats.tasks_sent : 0, outcome.ok() ? outcome->stats.tasks_cancelled : 0);
  DeliverCancels(cancels);  // before the callback (see SetCancelHook)
  if (done) done(std::move(outcome));
  return cancels;
}

void TaskPool::OnWorkerLost(WorkerId worker) {
  absl::MutexLock lock(&mu_);
  macs_per_second_.erase(worker);  // a reconnecting worker gets a new id
  for (auto& [id, job] : jobs_) {
    job->has_b.erase(worker);
    for (auto it = job->outstanding.begin(); it != job->outstanding.end();) {
      if (it->second.worker != worker) {
        ++it;
        continue;
      }
      const int64_t task = it->first;
      it = job->outstanding.erase(it);
      // Fixed-rate codes re-issue the task; rateless codes generate others.
      Requeue(*job, task);
      ForgetIfRateless(*job, task);
    }
  }
}

absl::Status TaskPool::Cancel(JobId id, absl::string_view why) {
  bool found = false;
  FailIf([&](const Job& job, absl::Time) {
    if (job.id != id) return absl::OkStatus();
    found = true;
    return absl::CancelledError(absl::StrCat("job ", id, " cancelled: ", why));
  });
  return found ? absl::OkStatus() : absl::NotFoundError(absl::StrCat("job ", id, " is unknown or already finished"));
}

std::vector<CancelOrder> TaskPool::FailIf(const std::function<absl::Status(const Job&, absl::Time)>& doomed) {
  std::vector<std::pair<JobCallback, absl::Status>> failed;
  std::vector<CancelOrder> cancels;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      Job& job = *it->second;
      absl::Status why = job.finished ? absl::OkStatus() : doomed(job, now);
      if (why.ok()) {
        ++it;
        continue;
      }
      job.finished = true;
      std::vector<CancelOrder> c = CancelAll(job);
      cancels.insert(cancels.end(), c.begin(), c.end());
      failed.emplace_back(std::move(job.done), std::move(why));
      it = jobs_.erase(it);
    }
  }
  DeliverCancels(cancels);
  for (auto& [done, status] : failed) {
    if (done) done(status);
  }
  return cancels;
}

std::vector<CancelOrder> TaskPool::Expire() {
  return FailIf([](const Job& job, absl::Time now) {
    if (now < job.deadline) return absl::OkStatus();
    std::string hint;
    if (job.priv) {
      const int64_t t = job.priv->code.params().t, need = job.priv->code.recovery_threshold();
      hint = absl::StrCat(" (a T-private job gives each worker at most t = ", t, " tasks: it needs at least ",
                          (need + t - 1) / t, " workers; ", job.priv->handed.size(), " took part)");
    }
    return absl::DeadlineExceededError(absl::StrCat("job ", job.id, " (", CodeName(job),
                                                    ") missed its deadline after ",
                                                    absl::FormatDuration(now - job.submitted), ": ",
                                                    job.returned.size(), " task results accepted, not yet decodable",
                                                    hint));
  });
}

std::vector<CancelOrder> TaskPool::FailAll(const absl::Status& status) {
  return FailIf([&status](const Job&, absl::Time) { return status; });
}

int64_t TaskPool::jobs_in_flight() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(jobs_.size());
}

}  // namespace codedge
