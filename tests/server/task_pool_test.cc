#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <optional>
#include <set>

#include "common/field.h"
#include "common/matrix_util.h"
#include "server/task_pool.h"
#include "tests/conv_case.h"

namespace codedge {
namespace {

MatrixD Exact(const Matrix& a, const Matrix& b) { return a.cast<double>() * b.cast<double>(); }

// A worker played in-process, deterministically: it pulls up to `credits`
// tasks, caches B per job, and (unless it is a straggler) returns one result
// per round.
struct FakeWorker {
  WorkerId id = 0;
  int credits = 2;
  bool straggler = false;  // holds tasks, never answers
  bool alive = true;
  std::map<JobId, Matrix> b_cache;
  std::deque<Assignment> held;
  int64_t b_received = 0, results_sent = 0;
};

struct Outcome {
  std::optional<absl::StatusOr<JobResult>> result;
};

// Rounds of pull + compute until every outcome is in (or `max_rounds`).
void Run(TaskPool& pool, std::vector<FakeWorker>& workers, std::vector<Outcome*> outcomes, int max_rounds = 10000) {
  auto all_done = [&] {
    for (Outcome* o : outcomes)
      if (!o->result) return false;
    return true;
  };
  for (int round = 0; round < max_rounds && !all_done(); ++round) {
    for (FakeWorker& w : workers) {
      if (!w.alive) continue;
      while (static_cast<int>(w.held.size()) < w.credits) {
        auto a = pool.NextTask(w.id);
        if (!a) break;
        if (a->b) {
          REQUIRE(!w.b_cache.count(a->job));  // B arrives once per worker per job
          w.b_cache[a->job] = *a->b;
          w.b_received++;
        }
        REQUIRE(w.b_cache.count(a->job));  // and before the first task
        w.held.push_back(*a);
      }
    }
    for (FakeWorker& w : workers) {
      if (!w.alive || w.straggler || w.held.empty()) continue;
      Assignment a = w.held.front();
      w.held.pop_front();
      absl::StatusOr<std::vector<CancelOrder>> cancels;
      if (a.field()) {  // a T-private task: the product mod p, B as integers
        auto b_int = IntegersFromFloat(w.b_cache[a.job]);
        REQUIRE(b_int.ok());
        cancels = pool.OnFieldResult(w.id, a.job, a.task, FieldProduct(a.field_rows(), *b_int));
      } else {
        const Matrix& b = w.b_cache[a.job];
        Matrix product(a.rows, a.op.OutCols(b.cols())), scratch;  // what an edge-worker computes
        ApplyRowOp(a.op, a.coded_rows(), b, Eigen::Map<Matrix>(product.data(), product.rows(), product.cols()),
                   scratch);
        cancels = pool.OnResult(w.id, a.job, a.task, std::move(product));
      }
      w.results_sent++;
      if (!cancels.ok()) {
        REQUIRE(cancels.status().code() == absl::StatusCode::kNotFound);  // late result of a finished job
        continue;
      }
      for (const CancelOrder& c : *cancels) {
        for (FakeWorker& v : workers) {
          if (v.id != c.worker) continue;
          std::erase_if(v.held, [&](const Assignment& h) { return h.job == c.job && (c.task < 0 || h.task == c.task); });
        }
      }
    }
  }
}

std::vector<FakeWorker> Workers(int n) {
  std::vector<FakeWorker> w(n);
  for (int i = 0; i < n; ++i) w[i].id = static_cast<WorkerId>(i + 1);
  return w;
}

TEST_CASE("Every strategy returns A·B through the pool with 1, 3 and 10 workers", "[pool]") {
  Pcg32 rng(3, 3);
  const Matrix a = RandomUniformMatrix(60, 7, rng), b = RandomUniformMatrix(7, 4, rng);
  for (const char* spec : {"uncoded:k=6", "speculative:k=6", "replication:k=5,copies=2", "mds:m=9,n=6",
                           "mds:m=9,n=6,generator=systematic", "lt:symbols_per_task=6"}) {
    for (int n : {1, 3, 10}) {
      INFO(spec << " workers=" << n);
      TaskPool pool;
      auto workers = Workers(n);
      Outcome out;
      auto id = pool.Submit(a, b, *ParseCodeSpec(spec), [&](absl::StatusOr<JobResult> r) { out.result = std::move(r); });
      REQUIRE(id.ok());
      Run(pool, workers, {&out});
      REQUIRE(out.result.has_value());
      REQUIRE(out.result->ok());
      CHECK(RelativeError((*out.result)->product, Exact(a, b)) < 1e-4);
      CHECK(pool.jobs_in_flight() == 0);
      for (const FakeWorker& w : workers) CHECK(w.b_received <= 1);
    }
  }
}

TEST_CASE("Convolution jobs decode every image's output, input gradient and the weight gradient under every strategy", "[pool]") {
  Pcg32 rng(3, 4);
  const ConvCase c = ConvCase::Make(ConvGeometry{1, 6, 5, 3, 3, 3, 1, 1}, 13, 4, rng);
  const Matrix &x = c.x, &w = c.w, &dz = c.dz, &wt = c.wt;
  const RowOp &fwd = c.fwd, &bwd = c.bwd;
  for (const char* spec : {"uncoded:k=4", "speculative:k=4", "replication:k=4,copies=2", "mds:m=7,n=4",
                           "lt:symbols_per_task=2", "lt:symbol_rows=1,task_seconds=0.01"}) {
    INFO(spec);
    TaskPool pool;
    auto workers = Workers(3);
    Outcome forward, backward, weights;
    REQUIRE(pool.Submit(x, w, *ParseCodeSpec(spec), [&](auto r) { forward.result = std::move(r); },
                        absl::InfiniteFuture(), fwd)
                .ok());
    REQUIRE(pool.Submit(dz, wt, *ParseCodeSpec(spec), [&](auto r) { backward.result = std::move(r); },
                        absl::InfiniteFuture(), bwd)
                .ok());
    REQUIRE(pool.Submit(c.channels, c.dz_pixels, *ParseCodeSpec(spec),
                        [&](auto r) { weights.result = std::move(r); }, absl::InfiniteFuture(), c.wgt)
                .ok());
    Run(pool, workers, {&forward, &backward, &weights});
    REQUIRE(weights.result.has_value());
    REQUIRE(weights.result->ok());
    CHECK(RelativeError(c.AsWeightGradient((*weights.result)->product), c.dw_want) < 1e-4);
    REQUIRE(forward.result.has_value());
    REQUIRE(forward.result->ok());
    REQUIRE(backward.result.has_value());
    REQUIRE(backward.result->ok());
    const Matrix& z = (*forward.result)->product;
    const Matrix& dx = (*backward.result)->product;
    REQUIRE(z.rows() == c.images);
    REQUIRE(z.cols() == c.fwd.OutCols(c.filters));
    REQUIRE(dx.rows() == c.images);
    REQUIRE(dx.cols() == c.x.cols());
    CHECK(RelativeError(c.AsOutputPixels(z), c.z_want) < 1e-4);
    CHECK(RelativeError(c.AsInputPixels(dx), c.dx_want) < 1e-4);
  }

  // Refused at submission: operands that do not fit the op, a bad geometry,
  // and the private strategy (plain products only).
  TaskPool pool;
  auto noop = [](absl::StatusOr<JobResult>) {};
  const CodeSpec lt = *ParseCodeSpec("lt");
  CHECK(pool.Submit(x, wt, lt, noop, absl::InfiniteFuture(), fwd).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(pool.Submit(x.leftCols(x.cols() - 1), w, lt, noop, absl::InfiniteFuture(), fwd).status().code() ==
        absl::StatusCode::kInvalidArgument);
  RowOp strideless = fwd;
  strideless.conv.stride = 0;
  CHECK(pool.Submit(x, w, lt, noop, absl::InfiniteFuture(), strideless).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(pool.Submit(x, w, *ParseCodeSpec("private:k=2,t=1,n=4"), noop, absl::InfiniteFuture(), fwd).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // A result as wide as the plain product would be, not the op's, is
  // refused and its task re-queued.
  Outcome out;
  const JobId id = *pool.Submit(x, w, *ParseCodeSpec("uncoded:k=2"), [&](auto r) { out.result = std::move(r); },
                                absl::InfiniteFuture(), fwd);
  auto t0 = pool.NextTask(1);
  REQUIRE(t0.has_value());
  CHECK(t0->op.kind == RowOp::Kind::kIm2colProduct);
  CHECK(pool.OnResult(1, id, t0->task, Matrix::Zero(t0->rows, c.filters)).status().code() ==
        absl::StatusCode::kInvalidArgument);
  auto one = Workers(1);
  one[0].b_cache[id] = w;  // worker 1 already has B
  Run(pool, one, {&out});
  REQUIRE(out.result.has_value());
  REQUIRE(out.result->ok());
  CHECK(RelativeError(c.AsOutputPixels((*out.result)->product), c.z_want) < 1e-5);
}

// The largest error fixed point may cause in an entry of A·B: |A - A_q s_a|
// <= s_a / 2 entrywise (likewise B), summed over the inner dimension.
double QuantizationBound(const Matrix& a, const Matrix& b, int bits) {
  const double top = std::ldexp(1.0, bits - 1) - 1;
  const double ma = a.cwiseAbs().maxCoeff(), mb = b.cwiseAbs().maxCoeff();
  const double sa = ma / top, sb = mb / top;
  return static_cast<double>(a.cols()) * (sa / 2 * mb + ma * sb / 2 + sa * sb / 4);
}

TEST_CASE("A T-private job returns A.B within the fixed-point bound despite stragglers", "[pool][private]") {
  Pcg32 rng(12, 12);
  for (auto [rows, inner, cols] : {std::tuple<int64_t, int64_t, int64_t>{60, 7, 4}, {23, 30, 1}, {1, 5, 3}}) {
    for (int stragglers : {0, 3}) {
      INFO(rows << "x" << inner << "x" << cols << ", " << stragglers << " stragglers");
      const Matrix a = RandomUniformMatrix(rows, inner, rng), b = RandomUniformMatrix(inner, cols, rng);
      TaskPool pool;
      auto workers = Workers(15);  // n = 15 tasks, any 12 decode
      for (int s = 0; s < stragglers; ++s) workers[s].straggler = true;
      for (FakeWorker& w : workers) w.credits = 1;
      Outcome out;
      REQUIRE(pool.Submit(a, b, *ParseCodeSpec("private:k=10,t=2,n=15,bits=16"),
                          [&](auto r) { out.result = std::move(r); }).ok());
      Run(pool, workers, {&out});
      REQUIRE(out.result.has_value());
      REQUIRE(out.result->ok());
      const Matrix& got = (*out.result)->product;
      REQUIRE(got.rows() == rows);
      REQUIRE(got.cols() == cols);
      const double worst = (got.cast<double>() - Exact(a, b)).cwiseAbs().maxCoeff();
      // The bound plus float32 rounding of the decoded values.
      CHECK(worst <= QuantizationBound(a, b, 16) + 1e-6 * Exact(a, b).cwiseAbs().maxCoeff());
      CHECK(RelativeError(got, Exact(a, b)) < 1e-3);
      CHECK((*out.result)->stats.tasks_per_worker.size() == 12);  // k + t results, one per worker
      for (int s = 0; s < stragglers; ++s) CHECK(workers[s].held.empty());  // cancelled
    }
  }
}

TEST_CASE("T-private tasks carry field elements that look uniform, never rows of A", "[pool][private]") {
  Pcg32 rng(13, 13);
  const Matrix a = RandomUniformMatrix(40, 16, rng), b = RandomUniformMatrix(16, 3, rng);
  TaskPool pool;
  REQUIRE(pool.Submit(a, b, *ParseCodeSpec("private:k=4,t=2,n=8"), [](auto) {}).ok());
  int64_t elements = 0, small = 0;
  for (int t = 0; t < 8; ++t) {
    const WorkerId w = 1 + t / 2;  // workers 1-4, two tasks each
    auto task = pool.NextTask(w);
    REQUIRE(task.has_value());
    REQUIRE(task->field());
    CHECK(task->data == nullptr);
    // B travels as small integers (the quantized weights).
    if (task->b) CHECK(IntegersFromFloat(*task->b).ok());
    const auto rows = task->field_rows();
    CHECK(rows.rows() == 10);
    for (int64_t i = 0; i < rows.size(); ++i) {
      const uint64_t v = rows.data()[i];
      CHECK(v < kFieldPrime);
      // A quantized entry of A is a signed 16-bit integer: in the field, v
      // or p - v below 2^15. A uniform element is that small with
      // probability 2^-45.
      small += (v < (uint64_t{1} << 15) || kFieldPrime - v < (uint64_t{1} << 15)) ? 1 : 0;
      elements++;
    }
  }
  CHECK(elements == 8 * 10 * 16);
  CHECK(small == 0);
  CHECK(!pool.NextTask(5).has_value());  // n tasks, no more
}

TEST_CASE("No worker gets more than t tasks of a T-private job; too few workers fail clearly", "[pool][private]") {
  Pcg32 rng(15, 15);
  const Matrix a = RandomUniformMatrix(40, 6, rng), b = RandomUniformMatrix(6, 2, rng);
  FakeClock clock;
  TaskPool pool(&clock);
  Outcome out;
  REQUIRE(pool.Submit(a, b, *ParseCodeSpec("private:k=4,t=2,n=8"), [&](auto r) { out.result = std::move(r); },
                      clock.Now() + absl::Seconds(5))
              .ok());
  // Two shares of A reveal nothing, three would: worker 1 gets two, then
  // nothing, though six tasks are still queued -- even after returning them.
  auto t0 = pool.NextTask(1), t1 = pool.NextTask(1);
  REQUIRE(t0.has_value());
  REQUIRE(t1.has_value());
  CHECK(!pool.NextTask(1).has_value());
  CHECK(pool.OnTaskFailed(1, t0->job, t0->task).ok());  // back in the queue, still seen by worker 1
  CHECK(!pool.NextTask(1).has_value());
  // Two workers hold 4 shares; k + t = 6 are needed: the job waits, then
  // fails at its deadline naming the reason.
  REQUIRE(pool.NextTask(2).has_value());
  REQUIRE(pool.NextTask(2).has_value());
  CHECK(!pool.NextTask(2).has_value());
  clock.Advance(absl::Seconds(6));
  (void)pool.Expire();
  REQUIRE(out.result.has_value());
  CHECK(out.result->status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(out.result->status().message().find("needs at least 3 workers") != std::string_view::npos);
}

TEST_CASE("T-private jobs refuse float results, bad shapes and bad parameters", "[pool][private][bad-input]") {
  Pcg32 rng(14, 14);
  const Matrix a = RandomUniformMatrix(20, 3, rng), b = RandomUniformMatrix(3, 2, rng);
  TaskPool pool;
  auto noop = [](absl::StatusOr<JobResult>) {};
  CHECK(pool.Submit(a, b, *ParseCodeSpec("private:k=10,t=2,n=11"), noop).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ParseCodeSpec("private:bits=17").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseCodeSpec("private:m=3").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(MakeCode(*ParseCodeSpec("private"), 10).status().code() == absl::StatusCode::kInvalidArgument);
  Matrix bad = a;
  bad(3, 1) = std::numeric_limits<float>::infinity();
  CHECK(pool.Submit(bad, b, *ParseCodeSpec("private:k=2,t=1,n=4"), noop).status().code() ==
        absl::StatusCode::kInvalidArgument);

  Outcome out;
  const JobId id = *pool.Submit(a, b, *ParseCodeSpec("private:k=2,t=1,n=4"), [&](auto r) { out.result = std::move(r); });
  auto t0 = pool.NextTask(1);
  REQUIRE(t0.has_value());
  // A float result for a private job, then a wrong shape: refused, re-queued.
  CHECK(pool.OnResult(1, id, t0->task, Matrix::Zero(10, 2)).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(!pool.NextTask(1).has_value());  // t = 1: one share per worker
  auto t1 = pool.NextTask(2);
  REQUIRE(t1.has_value());
  CHECK(pool.OnFieldResult(2, id, t1->task, FieldMatrix::Zero(9, 2)).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // And a field result for a float job.
  TaskPool other;
  const JobId fid = *other.Submit(a, b, *ParseCodeSpec("uncoded:k=2"), noop);
  auto ft = other.NextTask(2);
  REQUIRE(ft.has_value());
  CHECK(other.OnFieldResult(2, fid, ft->task, FieldMatrix::Zero(10, 2)).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // The private job still completes from the re-queued tasks, on workers
  // that have not seen a share yet (3-5).
  auto workers = Workers(5);
  Run(pool, workers, {&out});
  REQUIRE(out.result.has_value());
  REQUIRE(out.result->ok());
  CHECK(RelativeError((*out.result)->product, Exact(a, b)) < 1e-3);
}

TEST_CASE("A straggler does not hold up coded jobs, and its tasks are cancelled", "[pool]") {
  Pcg32 rng(4, 4);
  const Matrix a = RandomUniformMatrix(40, 5, rng), b = RandomUniformMatrix(5, 3, rng);
  TaskPool pool;
  auto workers = Workers(3);
  workers[2].straggler = true;  // pulls two tasks and sits on them
  Outcome out;
  REQUIRE(pool.Submit(a, b, *ParseCodeSpec("mds:m=12,n=8"), [&](auto r) { out.result = std::move(r); }).ok());
  Run(pool, workers, {&out});
  REQUIRE(out.result.has_value());
  REQUIRE(out.result->ok());
  CHECK(RelativeError((*out.result)->product, Exact(a, b)) < 1e-4);
  const JobStats& st = (*out.result)->stats;
  CHECK(st.tasks_cancelled >= 2);  // the straggler's two tasks at least
  CHECK(workers[2].held.empty());  // the cancels reached it
  CHECK(st.tasks_per_worker.count(3) == 0);
  // Fast workers did the work.
  CHECK(st.tasks_per_worker.at(1) + st.tasks_per_worker.at(2) == 8);
}

TEST_CASE("Speculative uncoded re-issues a straggler's task and the first result wins", "[pool]") {
  Pcg32 rng(5, 5);
  const Matrix a = RandomUniformMatrix(30, 4, rng), b = RandomUniformMatrix(4, 2, rng);
  for (bool speculative : {false, true}) {
    TaskPool pool;
    auto workers = Workers(2);
    workers[1].straggler = true;
    Outcome out;
    REQUIRE(pool.Submit(a, b, *ParseCodeSpec(speculative ? "speculative:k=6" : "uncoded:k=6"),
                        [&](auto r) { out.result = std::move(r); })
                .ok());
    Run(pool, workers, {&out}, /*max_rounds=*/200);
    INFO("speculative=" << speculative);
    // Without speculation the straggler's tasks are never done.
    CHECK(out.result.has_value() == speculative);
    if (speculative) {
      REQUIRE(out.result->ok());
      CHECK(RelativeError((*out.result)->product, Exact(a, b)) < 1e-5);
      CHECK(workers[1].held.empty());  // its copies were cancelled
    }
  }
}

TEST_CASE("A lost worker's tasks are re-issued; a job with no worker fails at its deadline", "[pool]") {
  Pcg32 rng(6, 6);
  const Matrix a = RandomUniformMatrix(24, 4, rng), b = RandomUniformMatrix(4, 2, rng);
  FakeClock clock;
  TaskPool pool(&clock);
  auto workers = Workers(2);
  workers[1].straggler = true;
  Outcome out, doomed;
  REQUIRE(pool.Submit(a, b, *ParseCodeSpec("uncoded:k=4"), [&](auto r) { out.result = std::move(r); }).ok());
  Run(pool, workers, {&out}, /*max_rounds=*/50);
  CHECK_FALSE(out.result.has_value());  // the straggler holds two of the four blocks
  workers[1].alive = false;
  workers[1].held.clear();
  pool.OnWorkerLost(workers[1].id);
  Run(pool, workers, {&out});
  REQUIRE(out.result.has_value());
  REQUIRE(out.result->ok());
  CHECK(RelativeError((*out.result)->product, Exact(a, b)) < 1e-5);

  REQUIRE(pool.Submit(a, b, *ParseCodeSpec("mds:m=6,n=4"), [&](auto r) { doomed.result = std::move(r); },
                      clock.Now() + absl::Seconds(30))
              .ok());
  CHECK(pool.Expire().empty());
  CHECK_FALSE(doomed.result.has_value());
  clock.Advance(absl::Seconds(31));
  pool.Expire();
  REQUIRE(doomed.result.has_value());
  CHECK(doomed.result->status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(doomed.result->status().message().find("missed its deadline") != std::string_view::npos);
}

TEST_CASE("Two jobs in flight complete independently", "[pool]") {
  Pcg32 rng(7, 7);
  const Matrix a1 = RandomUniformMatrix(50, 6, rng), b1 = RandomUniformMatrix(6, 3, rng);
  const Matrix a2 = RandomUniformMatrix(33, 2, rng), b2 = RandomUniformMatrix(2, 5, rng);
  TaskPool pool;
  auto workers = Workers(4);
  Outcome o1, o2;
  REQUIRE(pool.Submit(a1, b1, *ParseCodeSpec("lt:symbols_per_task=5"), [&](auto r) { o1.result = std::move(r); }).ok());
  REQUIRE(pool.Submit(a2, b2, *ParseCodeSpec("mds:m=7,n=5"), [&](auto r) { o2.result = std::move(r); }).ok());
  CHECK(pool.jobs_in_flight() == 2);
  Run(pool, workers, {&o1, &o2});
  REQUIRE(o1.result.has_value());
  REQUIRE(o2.result.has_value());
  CHECK(RelativeError((*o1.result)->product, Exact(a1, b1)) < 1e-3);
  CHECK(RelativeError((*o2.result)->product, Exact(a2, b2)) < 1e-4);
  for (const FakeWorker& w : workers) CHECK(w.b_received <= 2);
}

TEST_CASE("Bad submissions and bad results get clear errors; the pool keeps serving", "[pool][bad-input]") {
  Pcg32 rng(8, 8);
  const Matrix a = RandomUniformMatrix(20, 3, rng), b = RandomUniformMatrix(3, 2, rng);
  TaskPool pool;
  auto noop = [](absl::StatusOr<JobResult>) {};
  CHECK(pool.Submit(a, RandomUniformMatrix(4, 2, rng), *ParseCodeSpec("uncoded:k=2"), noop).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(pool.Submit(Matrix(0, 3), b, *ParseCodeSpec("uncoded:k=2"), noop).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(pool.Submit(a, b, *ParseCodeSpec("mds:m=3,n=4"), noop).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseCodeSpec("speculative:m=6").status().code() == absl::StatusCode::kInvalidArgument);
  // Sizes that would make the server allocate without bound are refused.
  CHECK(pool.Submit(a, b, *ParseCodeSpec("uncoded:k=2147483647"), noop).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(pool.Submit(a, b, *ParseCodeSpec("lt:symbols_per_task=1000000000000"), noop).status().code() ==
        absl::StatusCode::kInvalidArgument);

  Outcome out;
  const JobId id = *pool.Submit(a, b, *ParseCodeSpec("uncoded:k=2"), [&](auto r) { out.result = std::move(r); });
  CHECK(pool.OnResult(1, id + 100, 0, Matrix::Zero(10, 2)).status().code() == absl::StatusCode::kNotFound);
  CHECK(pool.OnResult(1, id, 0, Matrix::Zero(10, 2)).status().code() == absl::StatusCode::kFailedPrecondition);
  auto t0 = pool.NextTask(1);
  REQUIRE(t0.has_value());
  // A wrong-shaped result is refused and the task goes back to the queue.
  CHECK(pool.OnResult(1, id, t0->task, Matrix::Zero(3, 2)).status().code() == absl::StatusCode::kInvalidArgument);
  auto workers = Workers(1);
  workers[0].b_cache[id] = b;  // worker 1 already has B
  Run(pool, workers, {&out});
  REQUIRE(out.result.has_value());
  REQUIRE(out.result->ok());
  CHECK(RelativeError((*out.result)->product, Exact(a, b)) < 1e-5);
  // A late result of the finished job is NotFound, not a crash.
  CHECK(pool.OnResult(1, id, 0, Matrix::Zero(10, 2)).status().code() == absl::StatusCode::kNotFound);
  // A closed pool (shutdown) refuses new jobs.
  pool.Close();
  CHECK(pool.Submit(a, b, *ParseCodeSpec("uncoded:k=2"), noop).status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("A task the worker could not compute goes to another worker", "[pool]") {
  Pcg32 rng(10, 10);
  const Matrix a = RandomUniformMatrix(12, 3, rng), b = RandomUniformMatrix(3, 2, rng);
  TaskPool pool;
  Outcome out;
  const JobId id = *pool.Submit(a, b, *ParseCodeSpec("uncoded:k=1"), [&](auto r) { out.result = std::move(r); });
  auto t = pool.NextTask(1);
  REQUIRE(t.has_value());
  CHECK_FALSE(pool.NextTask(2).has_value());  // the only task is out
  CHECK(pool.OnTaskFailed(2, id, t->task).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(pool.OnTaskFailed(1, id + 1, t->task).code() == absl::StatusCode::kNotFound);
  REQUIRE(pool.OnTaskFailed(1, id, t->task).ok());
  auto again = pool.NextTask(2);
  REQUIRE(again.has_value());
  CHECK(again->task == t->task);
  REQUIRE(pool.OnResult(2, id, again->task, again->coded_rows() * b).ok());
  REQUIRE(out.result.has_value());
  CHECK(RelativeError((*out.result)->product, Exact(a, b)) < 1e-5);
}

TEST_CASE("After a wrong result a worker results are ignored, not counted, and its tasks go to others", "[pool]") {
  // Results travel asynchronously: a banned worker's second result may be
  // accepted for processing after the first one banned it.
  Pcg32 rng(12, 12);
  const Matrix a = RandomUniformMatrix(40, 6, rng), b = RandomUniformMatrix(6, 3, rng);
  TaskPool pool;
  pool.SetVerifyResults(true);
  Outcome out;
  const JobId id = *pool.Submit(a, b, *ParseCodeSpec("uncoded:k=4"), [&](auto r) { out.result = std::move(r); });
  auto t0 = pool.NextTask(1), t1 = pool.NextTask(1);
  REQUIRE(t0.has_value());
  REQUIRE(t1.has_value());
  Matrix wrong = t0->coded_rows() * b;
  wrong(0, 0) += 1;
  CHECK(pool.OnResult(1, id, t0->task, wrong).status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(pool.IsFaulty(1));
  // Its second result is right, but it is not trusted: refused unchecked.
  auto late = pool.OnResult(1, id, t1->task, t1->coded_rows() * b);
  CHECK(late.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK_FALSE(pool.NextTask(1).has_value());
  // Worker 2 computes every task, both of worker 1's included.
  std::set<int64_t> seen;
  while (auto t = pool.NextTask(2)) {
    seen.insert(t->task);
    REQUIRE(pool.OnResult(2, id, t->task, t->coded_rows() * b).ok());
  }
  CHECK(seen.size() == 4);
  REQUIRE(out.result.has_value());
  REQUIRE(out.result->ok());
  CHECK((*out.result)->stats.tasks_rejected == 1);
  CHECK(RelativeError((*out.result)->product, Exact(a, b)) < 1e-5);
}

TEST_CASE("Holds says which worker holds a task until its result or its cancel", "[pool]") {
  Pcg32 rng(14, 14);
  const Matrix a = RandomUniformMatrix(20, 3, rng), b = RandomUniformMatrix(3, 2, rng);
  TaskPool pool;
  Outcome out;
  const JobId id = *pool.Submit(a, b, *ParseCodeSpec("uncoded:k=2"), [&](auto r) { out.result = std::move(r); });
  auto t0 = pool.NextTask(1), t1 = pool.NextTask(2);
  REQUIRE(t0.has_value());
  REQUIRE(t1.has_value());
  CHECK(pool.Holds(1, id, t0->task));
  CHECK_FALSE(pool.Holds(2, id, t0->task));
  CHECK_FALSE(pool.Holds(1, id + 1, t0->task));
  REQUIRE(pool.OnResult(1, id, t0->task, t0->coded_rows() * b).ok());
  CHECK_FALSE(pool.Holds(1, id, t0->task));  // answered
  CHECK(pool.Holds(2, id, t1->task));
  REQUIRE(pool.Cancel(id, "test").ok());
  CHECK_FALSE(pool.Holds(2, id, t1->task));  // the job is over
}

TEST_CASE("A bad result keeps the other copy running; the work hook fires on submit", "[pool]") {
  Pcg32 rng(9, 9);
  const Matrix a = RandomUniformMatrix(12, 3, rng), b = RandomUniformMatrix(3, 2, rng);
  TaskPool pool;
  int hooks = 0;
  pool.SetWorkHook([&] { hooks++; });
  Outcome out;
  const JobId id = *pool.Submit(a, b, *ParseCodeSpec("speculative:k=1"), [&](auto r) { out.result = std::move(r); });
  CHECK(hooks == 1);
  auto first = pool.NextTask(1);   // the only task
  auto second = pool.NextTask(2);  // a speculative copy of it
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK(first->task == second->task);
  // Worker 1 sends garbage: refused, and worker 2's copy is not cancelled.
  auto bad = pool.OnResult(1, id, first->task, Matrix::Zero(1, 1));
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  auto good = pool.OnResult(2, id, second->task, second->coded_rows() * b);
  REQUIRE(good.ok());
  REQUIRE(out.result.has_value());
  REQUIRE(out.result->ok());
  CHECK(RelativeError((*out.result)->product, Exact(a, b)) < 1e-5);
}

TEST_CASE("A speculative copy that loses the race counts as wasted, not as an error", "[pool]") {
  Pcg32 rng(9, 10);
  const Matrix a = RandomUniformMatrix(12, 3, rng), b = RandomUniformMatrix(3, 2, rng);
  TaskPool pool;
  Outcome out;
  const JobId id = *pool.Submit(a, b, *ParseCodeSpec("speculative:k=2"), [&](auto r) { out.result = std::move(r); });
  auto t0 = pool.NextTask(1), t1 = pool.NextTask(1);
  auto copy = pool.NextTask(2);  // a speculative copy of the oldest: t0
  REQUIRE(t0.has_value());
  REQUIRE(t1.has_value());
  REQUIRE(copy.has_value());
  REQUIRE(copy->task == t0->task);
  auto first = pool.OnResult(1, id, t0->task, t0->coded_rows() * b);
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);  // worker 2's copy is cancelled
  CHECK((*first)[0].worker == 2);
  // Worker 2 had finished before the cancel reached it: accepted, not an
  // error, and counted as wasted work.
  auto late = pool.OnResult(2, id, copy->task, copy->coded_rows() * b);
  CHECK(late.ok());
  // Only once: a second result for the same copy is an error again.
  CHECK(pool.OnResult(2, id, copy->task, copy->coded_rows() * b).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  REQUIRE(pool.OnResult(1, id, t1->task, t1->coded_rows() * b).ok());
  REQUIRE(out.result.has_value());
  REQUIRE(out.result->ok());
  CHECK(RelativeError((*out.result)->product, Exact(a, b)) < 1e-5);
  CHECK((*out.result)->stats.tasks_wasted == 1);
  CHECK((*out.result)->stats.rows_wasted == copy->rows);
  CHECK((*out.result)->stats.tasks_cancelled == 1);
}

TEST_CASE("ForgetB: a worker whose first task of a job was not sent gets B with its next one", "[pool]") {
  Pcg32 rng(9, 11);
  const Matrix a = RandomUniformMatrix(12, 3, rng), b = RandomUniformMatrix(3, 2, rng);
  TaskPool pool;
  Outcome out;
  const JobId id = *pool.Submit(a, b, *ParseCodeSpec("uncoded:k=3"), [&](auto r) { out.result = std::move(r); });
  auto first = pool.NextTask(1);
  REQUIRE(first.has_value());
  CHECK(first->b != nullptr);
  auto second = pool.NextTask(1);
  REQUIRE(second.has_value());
  CHECK(second->b == nullptr);  // B goes once per worker per job...
  pool.ForgetB(1, id);          // ...unless the task that carried it never went out
  auto third = pool.NextTask(1);
  REQUIRE(third.has_value());
  REQUIRE(third->b != nullptr);
  CHECK(third->b->isApprox(b));
  pool.ForgetB(1, id + 99);  // an unknown job: nothing to forget
  REQUIRE(pool.Cancel(id, "test").ok());
}

}  // namespace
}  // namespace codedge

namespace codedge {
namespace {

// A 2000-row LT product whose tasks the pool sizes to 10 ms of each
// worker's speed, on a clock that stands still: a speed then comes from the
// reported compute time alone, not from how long this (possibly sanitized,
// loaded) process took between hand-out and result.
struct SizedLtJob {
  explicit SizedLtJob(uint64_t seed) : rng(seed, 1) {}
  FakeClock clock;
  TaskPool pool{&clock};
  Pcg32 rng;
  const Matrix a = RandomUniformMatrix(2000, 6, rng), b = RandomUniformMatrix(6, 3, rng);
  const absl::StatusOr<CodeSpec> spec = ParseCodeSpec("lt:symbols_per_task=20,task_seconds=0.01");
  // Submits the product; its outcome lands in `out`.
  void Submit(std::optional<absl::StatusOr<JobResult>>& out) {
    REQUIRE(spec.ok());
    REQUIRE(pool.Submit(a, b, *spec, [&out](absl::StatusOr<JobResult> r) { out = std::move(r); }).ok());
  }
};

TEST_CASE("A very fast worker's LT tasks are capped at an eighth of k", "[task_pool]") {
  SizedLtJob setup(41);
  TaskPool& pool = setup.pool;
  const Matrix &a = setup.a, &b = setup.b;
  for (int job = 0; job < 2; ++job) {
    std::optional<absl::StatusOr<JobResult>> out;
    setup.Submit(out);
    std::vector<int64_t> sizes;
    for (int round = 0; round < 1000 && !out; ++round) {
      auto t = pool.NextTask(1);
      REQUIRE(t.has_value());
      sizes.push_back(t->rows);
      // A microsecond per task, whatever its size: ~10^9 rows/s.
      REQUIRE(pool.OnResult(1, t->job, t->task, t->coded_rows() * b, 1e-6).ok());
    }
    REQUIRE(out.has_value());
    REQUIRE(out->ok());
    CHECK(RelativeError((*out)->product, Exact(a, b)) < 1e-3);
    if (job == 1) {  // 10 ms at that speed is far more than k: every task is k / 8, the slow start included
      REQUIRE(sizes.size() >= 8);
      for (int64_t s : sizes) CHECK(s == 2000 / 8);
    }
  }
}

TEST_CASE("A weight gradient's LT tasks carry at least the channels a worker computes together", "[task_pool]") {
  // A worker multiplies a chunk's channels with dz in one product
  // (RowOp::MinChunkRows: 4 for a 3x3 kernel); a task of fewer channels
  // would read dz once per channel.
  Pcg32 rng(42, 1);
  const ConvCase c = ConvCase::Make(ConvGeometry{1, 6, 5, 12, 3, 3, 1, 1}, 5, 4, rng);
  CHECK(c.wgt.MinChunkRows() == 4);
  CHECK(c.fwd.MinChunkRows() == 1);
  CHECK(c.bwd.MinChunkRows() == 1);
  FakeClock clock;
  TaskPool pool{&clock};
  const absl::StatusOr<CodeSpec> spec = ParseCodeSpec("lt:task_seconds=0.01");
  REQUIRE(spec.ok());
  for (int job = 0; job < 2; ++job) {  // the first teaches the pool the worker's speed
    std::optional<absl::StatusOr<JobResult>> out;
    REQUIRE(pool.Submit(c.channels, c.dz_pixels, *spec, [&out](absl::StatusOr<JobResult> r) { out = std::move(r); },
                        absl::InfiniteFuture(), c.wgt)
                .ok());
    std::vector<int64_t> sizes;
    for (int round = 0; round < 1000 && !out; ++round) {
      auto t = pool.NextTask(1);
      REQUIRE(t.has_value());
      sizes.push_back(t->rows);
      Matrix result(t->rows, c.wgt.OutCols(c.filters)), scratch;
      ApplyRowOp(c.wgt, t->coded_rows(), c.dz_pixels, Eigen::Map<Matrix>(result.data(), result.rows(), result.cols()),
                 scratch);
      // A second per channel: 10 ms tasks would hold a hundredth of one.
      REQUIRE(pool.OnResult(1, t->job, t->task, result, static_cast<double>(t->rows)).ok());
    }
    REQUIRE(out.has_value());
    REQUIRE(out->ok());
    CHECK(RelativeError(c.AsWeightGradient((*out)->product), c.dw_want) < 1e-4);
    // Every task, the first job's included (the worker's speed unknown
    // before its first result).
    REQUIRE(!sizes.empty());
    for (int64_t s : sizes) CHECK(s == 4);
  }
}

TEST_CASE("LT tasks are sized to each worker's measured speed and still decode A·B", "[task_pool]") {
  SizedLtJob setup(40);
  TaskPool& pool = setup.pool;
  const Matrix &a = setup.a, &b = setup.b;
  // Two jobs: the first teaches the pool the speeds, the second uses them.
  for (int job = 0; job < 2; ++job) {
    std::optional<absl::StatusOr<JobResult>> out;
    setup.Submit(out);
    std::map<WorkerId, std::vector<int64_t>> sizes;
    // Worker 1 computes 20 000 rows/s, worker 2 2 000 rows/s (as reported).
    for (int round = 0; round < 1000 && !out; ++round) {
      for (WorkerId w : {WorkerId{1}, WorkerId{2}}) {
        auto t = pool.NextTask(w);
        if (!t) continue;
        sizes[w].push_back(t->rows);
        const double seconds = static_cast<double>(t->rows) / (w == 1 ? 20000.0 : 2000.0);
        REQUIRE(pool.OnResult(w, t->job, t->task, t->coded_rows() * b, seconds).ok());
        if (out) break;
      }
    }
    REQUIRE(out.has_value());
    REQUIRE(out->ok());
    CHECK(RelativeError((*out)->product, Exact(a, b)) < 1e-3);
    if (job == 0) {
      CHECK(sizes[1].front() == 20);  // no estimate yet: symbols_per_task
    } else {
      // 10 ms of work: 200 rows for the fast worker, 20 for the slow one,
      // after a slow start (a quarter, then half of it).
      auto expect = [](const std::vector<int64_t>& got, int64_t full) {
        REQUIRE(got.size() >= 2);
        for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == (i == 0 ? full / 4 : i == 1 ? full / 2 : full));
      };
      expect(sizes[1], 200);
      expect(sizes[2], 20);
    }
  }
  // The speed is in multiply-adds: 20 000 rows/s of 6 x 3 is 360 000 MAC/s,
  // so a product with 10x the work per row (A 60 columns wide) gets tasks of
  // 20 rows from the fast worker, not 200 (first tasks: a quarter, 5 rows).
  CHECK(pool.MacsPerSecond(1) == Approx(360000.0));
  CHECK(pool.MacsPerSecond(2) == Approx(36000.0));
  CHECK(pool.MacsPerSecond(3) == 0);  // never seen
  {
    const Matrix wide = RandomUniformMatrix(2000, 60, setup.rng), bw = RandomUniformMatrix(60, 3, setup.rng);
    std::optional<absl::StatusOr<JobResult>> out;
    REQUIRE(pool.Submit(wide, bw, *setup.spec, [&](absl::StatusOr<JobResult> r) { out = std::move(r); }).ok());
    auto t = pool.NextTask(1);
    REQUIRE(t.has_value());
    CHECK(t->rows == 5);
    auto t2 = pool.NextTask(2);
    REQUIRE(t2.has_value());
    CHECK(t2->rows == 1);  // a quarter of 2 rows: at least one symbol
    pool.FailAll(absl::CancelledError("test over"));
  }
  // task_seconds=0 keeps fixed-size tasks.
  auto fixed = ParseCodeSpec("lt:symbols_per_task=20,task_seconds=0");
  REQUIRE(fixed.ok());
  std::optional<absl::StatusOr<JobResult>> out;
  REQUIRE(pool.Submit(a, b, *fixed, [&](absl::StatusOr<JobResult> r) { out = std::move(r); }).ok());
  auto t = pool.NextTask(1);
  REQUIRE(t.has_value());
  CHECK(t->rows == 20);
  CHECK(ParseCodeSpec("lt:task_seconds=-1").status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge

namespace codedge {
namespace {

TEST_CASE("JobStats add up field by field and per worker", "[task_pool]") {
  JobStats a, b;
  a.encode_seconds = 1;
  a.decode_seconds = 2;
  a.total_seconds = 3;
  a.tasks_sent = 4;
  a.tasks_cancelled = 1;
  a.tasks_per_worker[1] = 2;
  a.rows_per_worker[1] = 20;
  b.encode_seconds = 0.5;
  b.queue_seconds = 0.25;
  b.compute_seconds = 7;
  b.verify_seconds = 0.125;
  b.tasks_sent = 6;
  b.tasks_returned = 5;
  b.tasks_wasted = 1;
  b.rows_wasted = 9;
  b.tasks_rejected = 2;
  b.tasks_per_worker[1] = 1;
  b.tasks_per_worker[2] = 3;
  b.rows_per_worker[2] = 30;
  a += b;
  CHECK(a.encode_seconds == 1.5);
  CHECK(a.queue_seconds == 0.25);
  CHECK(a.compute_seconds == 7);
  CHECK(a.decode_seconds == 2);
  CHECK(a.total_seconds == 3);
  CHECK(a.verify_seconds == 0.125);
  CHECK(a.tasks_sent == 10);
  CHECK(a.tasks_returned == 5);
  CHECK(a.tasks_cancelled == 1);
  CHECK(a.tasks_wasted == 1);
  CHECK(a.rows_wasted == 9);
  CHECK(a.tasks_rejected == 2);
  CHECK(a.tasks_per_worker == std::map<WorkerId, int64_t>{{1, 3}, {2, 3}});
  CHECK(a.rows_per_worker == std::map<WorkerId, int64_t>{{1, 20}, {2, 30}});
}

}  // namespace
}  // namespace codedge
