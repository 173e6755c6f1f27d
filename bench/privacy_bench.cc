#include "bench/privacy_bench.h"

#include <algorithm>
#include <cmath>

#include <Eigen/LU>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/in_process_cluster.h"
#include "bench/json.h"
#include "bench/stats.h"
#include "codes/factory.h"
#include "codes/private_code.h"
#include "common/matrix_util.h"
#include "common/status.h"
#include "proto/wire.h"

namespace codedge::bench {
namespace {

// Sources whose unit vector lies in the row space of the symbols' coefficient
// matrix (exact, up to 1e-9), and its rank.
std::pair<std::vector<bool>, int64_t> ExactRecoverable(const std::vector<CodedSymbol>& symbols, int64_t k) {
  MatrixD m = MatrixD::Zero(static_cast<int64_t>(symbols.size()), k);
  for (size_t r = 0; r < symbols.size(); ++r)
    for (size_t j = 0; j < symbols[r].sources.size(); ++j) m(r, symbols[r].sources[j]) = symbols[r].coeffs[j];
  std::vector<bool> out(k, false);
  if (symbols.empty()) return {out, 0};
  Eigen::FullPivLU<MatrixD> lu(m);
  lu.setThreshold(1e-9);
  const MatrixD kernel = lu.kernel();
  const int64_t rank = lu.rank();
  // e_s is in the row space iff it is orthogonal to the kernel.
  for (int64_t s = 0; s < k; ++s) out[s] = rank == k || kernel.row(s).norm() < 1e-9;
  return {out, rank};
}

// Sources a peeling decoder recovers from the symbols (a lower bound on what
// the colluders can reconstruct).
std::vector<bool> PeelingRecoverable(const std::vector<CodedSymbol>& symbols, int64_t k) {
  std::vector<std::vector<int32_t>> eqs_of(k);
  std::vector<int32_t> rem(symbols.size());
  std::vector<int64_t> sum(symbols.size(), 0);
  std::vector<int32_t> ripple;
  for (size_t e = 0; e < symbols.size(); ++e) {
    rem[e] = static_cast<int32_t>(symbols[e].sources.size());
    for (int32_t s : symbols[e].sources) {
      eqs_of[s].push_back(static_cast<int32_t>(e));
      sum[e] += s;
    }
    if (rem[e] == 1) ripple.push_back(static_cast<int32_t>(e));
  }
  std::vector<bool> known(k, false);
  while (!ripple.empty()) {
    const int32_t e = ripple.back();
    ripple.pop_back();
    if (rem[e] != 1) continue;
    const int64_t s = sum[e];
    if (known[s]) continue;
    known[s] = true;
    for (int32_t e2 : eqs_of[s]) {
      sum[e2] -= s;
      if (--rem[e2] == 1) ripple.push_back(e2);
    }
  }
  return known;
}

}  // namespace

absl::StatusOr<std::vector<PrivacyRow>> RunPrivacyBench(const PrivacyOptions& o) {
  if (o.rows < 1 || o.workers < 1) return absl::InvalidArgumentError("privacy: --rows and --workers must be >= 1");
  std::vector<PrivacyRow> out;
  for (const std::string& text : o.strategies) {
    ASSIGN_OR_RETURN(CodeSpec spec, ParseCodeSpec(text));
    ASSIGN_OR_RETURN(std::unique_ptr<Code> code, MakeCode(spec, o.rows));
    const SourceLayout& layout = code->layout();
    PrivacyRow row;
    row.strategy = text;
    row.k = layout.num_symbols;
    row.exact = row.k <= 256;
    const int64_t tasks = code->num_tasks().value_or(
        (layout.num_symbols * 11 / 10 + code->symbols_per_task() - 1) / code->symbols_per_task());
    row.tasks = tasks;
    std::vector<std::vector<CodedSymbol>> held(o.workers);  // round robin, as the pool deals a job's first tasks
    std::vector<bool> raw(layout.rows, false);
    for (int64_t t = 0; t < tasks; ++t) {
      ASSIGN_OR_RETURN(TaskSpec task, code->Task(t));
      const TaskExposure e = Exposure(task, layout);
      if (e.raw_rows_exposed > 0) row.tasks_with_raw_rows++;
      for (const CodedSymbol& s : task.symbols) {
        if (s.sources.size() != 1) continue;
        for (int64_t r = layout.SymbolBegin(s.sources[0]); r < std::min(layout.SymbolEnd(s.sources[0]), layout.rows); ++r) {
          raw[r] = true;
        }
      }
      auto& mine = held[t % o.workers];
      mine.insert(mine.end(), task.symbols.begin(), task.symbols.end());
    }
    row.raw_rows = std::count(raw.begin(), raw.end(), true);
    std::vector<CodedSymbol> pooled;
    for (int c = 1; c <= o.workers; ++c) {
      pooled.insert(pooled.end(), held[c - 1].begin(), held[c - 1].end());
      if (c > 3 && c != o.workers / 2 && c != o.workers - 1 && c != o.workers) continue;
      std::vector<bool> known;
      int64_t rank = -1;
      if (row.exact) {
        std::tie(known, rank) = ExactRecoverable(pooled, row.k);
      } else {
        known = PeelingRecoverable(pooled, row.k);
      }
      int64_t rows = 0;
      for (int64_t s = 0; s < row.k; ++s) {
        if (known[s]) rows += std::max<int64_t>(0, std::min(layout.SymbolEnd(s), layout.rows) - layout.SymbolBegin(s));
      }
      row.coalition.push_back(c);
      row.rows_reconstructed.push_back(rows);
      row.rank.push_back(rank);
    }
    out.push_back(std::move(row));
  }
  return out;
}

void PrintPrivacyTable(const std::vector<PrivacyRow>& rows, const PrivacyOptions& o, std::ostream& out) {
  out << absl::StrFormat("What workers see of A (%d rows), tasks dealt round robin to %d workers\n\n", o.rows,
                         o.workers);
  out << absl::StrFormat("%-38s %6s %7s %13s %13s\n", "strategy", "k", "tasks", "tasks w/ raw", "raw rows of A");
  for (const PrivacyRow& r : rows) {
    out << absl::StrFormat("%-38s %6d %7d %6d %5.1f%% %6d %5.1f%%\n", r.strategy, r.k, r.tasks, r.tasks_with_raw_rows,
                           100.0 * r.tasks_with_raw_rows / std::max<int64_t>(1, r.tasks), r.raw_rows,
                           100.0 * r.raw_rows / o.rows);
  }
  out << "\nRows of A that c colluding workers reconstruct exactly (rank of what they hold / k in brackets;\n"
         "LT: by peeling, a lower bound)\n";
  for (const PrivacyRow& r : rows) {
    out << absl::StrFormat("%-38s", r.strategy);
    for (size_t i = 0; i < r.coalition.size(); ++i) {
      out << absl::StrFormat("  c=%d: %5.1f%%", r.coalition[i], 100.0 * r.rows_reconstructed[i] / o.rows);
      if (r.rank[i] >= 0) out << absl::StrFormat(" (%d/%d)", r.rank[i], r.k);
    }
    out << "\n";
  }
}

absl::StatusOr<std::vector<StageCost>> RunPrivateCostBench(const PrivateCostOptions& o) {
  Pcg32 rng(o.seed, 0x7076);
  const Matrix a = RandomUniformMatrix(o.rows, o.inner, rng), b = RandomUniformMatrix(o.inner, o.cols, rng);
  const MatrixD exact = a.cast<double>() * b.cast<double>();
  std::vector<StageCost> out;
  {  // T-private (Lagrange) code
    PrivateParams p{o.k, o.t, o.n, o.bits};
    ASSIGN_OR_RETURN(PrivateCode code, PrivateCode::Create(p, o.rows, o.inner));
    StageCost c;
    c.name = absl::StrCat("T-private LCC (k=", o.k, ", T=", o.t, ", n=", o.n, ", ", o.bits, "-bit)");
    c.threshold = code.recovery_threshold();
    c.tasks = o.n;
    std::vector<FieldMatrix> blocks;
    Quantized q;
    c.encode_s = MedianSeconds(o.repeats, [&] {
      q = *Quantize(a, b, o.bits);
      blocks = code.Encode(q.a);
    });
    std::vector<FieldMatrix> results(blocks.size());
    c.task_s = MedianSeconds(o.repeats, [&] { results[0] = FieldProduct(blocks[0], q.b); });
    for (size_t i = 1; i < blocks.size(); ++i) results[i] = FieldProduct(blocks[i], q.b);
    std::vector<int64_t> ids;
    std::vector<FieldMatrix> got;
    for (int64_t i = o.n - c.threshold; i < o.n; ++i) ids.push_back(i), got.push_back(results[i]);  // the last ones
    absl::StatusOr<Matrix> product = absl::UnknownError("unset");
    c.decode_s = MedianSeconds(o.repeats, [&] { product = code.DecodeProduct(ids, got, q); });
    if (!product.ok()) return product.status();
    c.rel_error = RelativeError(*product, exact);
    out.push_back(c);
  }
  {  // MDS on the same product (float, default generator)
    ASSIGN_OR_RETURN(CodeSpec spec, ParseCodeSpec(absl::StrCat("mds:m=", o.n, ",n=", o.k)));
    ASSIGN_OR_RETURN(std::unique_ptr<Code> code, MakeCode(spec, o.rows));
    StageCost c;
    c.name = absl::StrCat("MDS (", o.n, ", ", o.k, "), float32");
    c.threshold = o.k;
    c.tasks = o.n;
    std::vector<TaskSpec> tasks;
    for (int64_t i = 0; i < o.n; ++i) tasks.push_back(*code->Task(i));
    std::vector<Matrix> coded;
    c.encode_s = MedianSeconds(o.repeats, [&] { coded = *code->EncodeTasks(tasks, a); });
    std::vector<Matrix> results(coded.size());
    c.task_s = MedianSeconds(o.repeats, [&] { results[0].noalias() = coded[0] * b; });
    for (size_t i = 1; i < coded.size(); ++i) results[i].noalias() = coded[i] * b;
    absl::StatusOr<Matrix> product = absl::UnknownError("unset");
    c.decode_s = MedianSeconds(o.repeats, [&] {
      auto dec = code->NewDecoder();
      for (int64_t i = o.n - o.k; i < o.n; ++i) (void)dec->Add(tasks[i], results[i]);
      product = dec->Decode();
    });
    if (!product.ok()) return product.status();
    c.rel_error = RelativeError(*product, exact);
    out.push_back(c);
  }
  if (o.cluster) {  // the same product end to end: Multiply over gRPC, n in-process workers
    ASSIGN_OR_RETURN(std::unique_ptr<InProcessCluster> cluster, StartInProcessCluster(static_cast<int>(o.n)));
    auto stub = Stub(cluster->server->port());
    const std::string specs[2] = {absl::StrCat("private:k=", o.k, ",t=", o.t, ",n=", o.n, ",bits=", o.bits),
                                  absl::StrCat("mds:m=", o.n, ",n=", o.k)};
    for (int s = 0; s < 2; ++s) {
      const v1::MultiplyRequest req = MultiplyRequestFor(a, b, specs[s]);
      absl::Status failed;
      Matrix got;
      out[s].cluster_s = MedianSeconds(o.repeats, [&] {
        absl::StatusOr<v1::MultiplyResponse> r = Call(*stub, req);
        if (!r.ok()) {
          failed = r.status();
          return;
        }
        absl::StatusOr<Matrix> p = MatrixFromProto(r->product(), "product");
        if (!p.ok()) failed = p.status();
        if (p.ok()) got = *std::move(p);
      });
      RETURN_IF_ERROR(failed);
      out[s].cluster_rel_error = RelativeError(got, exact);
    }
  }
  return out;
}

void PrintPrivateCostTable(const std::vector<StageCost>& rows, const PrivateCostOptions& o, std::ostream& out) {
  out << absl::StrFormat("%dx%d . %dx%d, one thread, median of %d\n\n", o.rows, o.inner, o.inner, o.cols, o.repeats);
  out << absl::StrFormat("%-42s %10s %12s %10s %10s %11s\n", "code", "threshold", "encode ms", "task ms",
                         "decode ms", "rel error");
  for (const StageCost& c : rows) {
    out << absl::StrFormat("%-42s %6d/%-3d %12.2f %10.2f %10.2f %11.2g\n", c.name, c.threshold, c.tasks,
                           1e3 * c.encode_s, 1e3 * c.task_s, 1e3 * c.decode_s, c.rel_error);
  }
  if (rows.size() == 2) {
    out << absl::StrFormat("T-private / MDS: encode %.1fx, task %.1fx, decode %.1fx; it needs %d results instead of %d\n",
                           rows[0].encode_s / rows[1].encode_s, rows[0].task_s / rows[1].task_s,
                           rows[0].decode_s / rows[1].decode_s, rows[0].threshold, rows[1].threshold);
    if (o.cluster) {
      out << absl::StrFormat("end to end (Multiply over gRPC, %d in-process workers on this machine): T-private %.1f ms "
                             "(rel error %.2g), MDS %.1f ms (rel error %.2g): %.1fx\n",
                             o.n, 1e3 * rows[0].cluster_s, rows[0].cluster_rel_error, 1e3 * rows[1].cluster_s,
                             rows[1].cluster_rel_error, rows[0].cluster_s / rows[1].cluster_s);
    }
  }
}

std::string PrivacyJson(const std::vector<PrivacyRow>& rows, const PrivacyOptions& o) {
  JsonWriter w;
  w.BeginObject().Key("rows").Int(o.rows).Key("workers").Int(o.workers).Key("strategies").BeginArray();
  for (const PrivacyRow& r : rows) {
    w.BeginObject()
        .Key("strategy").String(r.strategy)
        .Key("k").Int(r.k)
        .Key("exact").Bool(r.exact)
        .Key("tasks").Int(r.tasks)
        .Key("tasks_with_raw_rows").Int(r.tasks_with_raw_rows)
        .Key("raw_rows").Int(r.raw_rows)
        .Key("collusion").BeginArray();
    for (size_t i = 0; i < r.coalition.size(); ++i) {
      w.BeginObject().Key("workers").Int(r.coalition[i]).Key("rows_reconstructed").Int(r.rows_reconstructed[i]);
      if (r.rank[i] >= 0) w.Key("rank").Int(r.rank[i]);
      w.EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return w.str();
}

}  // namespace codedge::bench
