#include "codes/code.h"

#include <algorithm>
#include <limits>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/matrix_util.h"
#include "common/status.h"

namespace codedge {

namespace {
constexpr int64_t kMaxSymbols = std::numeric_limits<int32_t>::max();  // symbol ids are int32
}  // namespace

absl::StatusOr<SourceLayout> SourceLayout::ForSymbolCount(int64_t rows, int64_t k) {
  if (rows < 1) return absl::InvalidArgumentError(absl::StrCat("A must have at least one row, got ", rows));
  if (k < 1) return absl::InvalidArgumentError(absl::StrCat("number of source blocks k must be >= 1, got ", k));
  if (k > kMaxSymbols) {
    return absl::InvalidArgumentError(absl::StrCat("number of source blocks k must be <= ", kMaxSymbols, ", got ", k));
  }
  return SourceLayout{rows, (rows - 1) / k + 1, k};
}

absl::StatusOr<SourceLayout> SourceLayout::ForSymbolRows(int64_t rows, int64_t symbol_rows) {
  if (rows < 1) return absl::InvalidArgumentError(absl::StrCat("A must have at least one row, got ", rows));
  if (symbol_rows < 1) {
    return absl::InvalidArgumentError(absl::StrCat("rows per symbol must be >= 1, got ", symbol_rows));
  }
  symbol_rows = std::min(symbol_rows, rows);  // more would be padding only
  const int64_t k = (rows - 1) / symbol_rows + 1;
  if (k > kMaxSymbols) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxSymbols, " source symbols, got ", k));
  }
  return SourceLayout{rows, symbol_rows, k};
}

int64_t SourceLayout::SymbolBegin(int64_t s) const { return std::min(rows, s * symbol_rows); }
int64_t SourceLayout::SymbolEnd(int64_t s) const { return std::min(rows, (s + 1) * symbol_rows); }

TaskExposure Exposure(const TaskSpec& task, const SourceLayout& layout) {
  TaskExposure e;
  for (const CodedSymbol& s : task.symbols) {
    e.touched_symbols.insert(e.touched_symbols.end(), s.sources.begin(), s.sources.end());
    if (s.sources.size() == 1 && s.coeffs[0] != 0.0) {
      e.raw_rows_exposed += layout.SymbolEnd(s.sources[0]) - layout.SymbolBegin(s.sources[0]);
    }
  }
  std::sort(e.touched_symbols.begin(), e.touched_symbols.end());
  e.touched_symbols.erase(std::unique(e.touched_symbols.begin(), e.touched_symbols.end()),
                          e.touched_symbols.end());
  for (int32_t s : e.touched_symbols) e.touched_rows += layout.SymbolEnd(s) - layout.SymbolBegin(s);
  return e;
}

absl::StatusOr<Matrix> Code::Encode(const TaskSpec& task, ConstMatrixRef a) const {
  if (a.rows() != layout_.rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("A has ", a.rows(), " rows, the code was built for ", layout_.rows));
  }
  const int64_t sr = layout_.symbol_rows;
  Matrix out = Matrix::Zero(TaskRows(task), a.cols());
  for (size_t i = 0; i < task.symbols.size(); ++i) {
    const CodedSymbol& sym = task.symbols[i];
    auto dst = out.middleRows(static_cast<int64_t>(i) * sr, sr);
    for (size_t j = 0; j < sym.sources.size(); ++j) {
      const int64_t begin = layout_.SymbolBegin(sym.sources[j]);
      const int64_t n = layout_.SymbolEnd(sym.sources[j]) - begin;  // < sr when ragged
      if (n <= 0) continue;                                         // all padding
      const float c = static_cast<float>(sym.coeffs[j]);
      if (c == 1.0f) {
        dst.topRows(n) += a.middleRows(begin, n);
      } else {
        dst.topRows(n) += c * a.middleRows(begin, n);
      }
    }
  }
  return out;
}

absl::StatusOr<TaskSpec> Code::TaskOfSymbols(int64_t, int64_t, int64_t) const {
  return absl::UnimplementedError(absl::StrCat(name(), " has fixed tasks; only rateless codes cut tasks of any size"));
}

std::optional<std::pair<int64_t, int64_t>> Code::PlainBlock(const TaskSpec& task) const {
  if (task.symbols.empty()) return std::nullopt;
  const int64_t first = task.symbols.front().sources.empty() ? -1 : task.symbols.front().sources[0];
  for (size_t i = 0; i < task.symbols.size(); ++i) {
    const CodedSymbol& s = task.symbols[i];
    if (s.sources.size() != 1 || s.coeffs.size() != 1 || s.coeffs[0] != 1.0 ||
        s.sources[0] != first + static_cast<int64_t>(i)) {
      return std::nullopt;
    }
  }
  const int64_t begin = layout_.SymbolBegin(first);
  const int64_t end = layout_.SymbolEnd(task.symbols.back().sources[0]);
  if (end - begin != TaskRows(task)) return std::nullopt;  // padded (ragged last symbol)
  return std::make_pair(begin, end);
}

absl::StatusOr<std::vector<Matrix>> Code::EncodeTasks(std::span<const TaskSpec> tasks, ConstMatrixRef a) const {
  if (a.rows() != layout_.rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("A has ", a.rows(), " rows, the code was built for ", layout_.rows));
  }
  const int64_t k = layout_.num_symbols, sr = layout_.symbol_rows, t = a.cols();
  int64_t symbols = 0, nnz = 0;
  for (const TaskSpec& task : tasks) {
    symbols += static_cast<int64_t>(task.symbols.size());
    for (const CodedSymbol& s : task.symbols) nnz += static_cast<int64_t>(s.sources.size());
  }
  std::vector<Matrix> out;
  out.reserve(tasks.size());
  if (symbols == 0 || 4 * nnz < symbols * k) {  // sparse: sums of rows
    for (const TaskSpec& task : tasks) {
      ASSIGN_OR_RETURN(Matrix m, Encode(task, a));
      out.push_back(std::move(m));
    }
    return out;
  }
  // Dense: coded (symbols x sr*t) = C (symbols x k) . A as k x (sr*t). A
  // row-major A whose rows fill k symbols exactly is that matrix already;
  // otherwise (ragged last symbol, strided view) copy it zero-padded.
  Matrix c = Matrix::Zero(symbols, k);
  int64_t row = 0;
  for (const TaskSpec& task : tasks) {
    for (const CodedSymbol& s : task.symbols) {
      for (size_t j = 0; j < s.sources.size(); ++j) c(row, s.sources[j]) = static_cast<float>(s.coeffs[j]);
      ++row;
    }
  }
  Matrix padded;
  const float* base = a.data();
  if (a.rows() != k * sr || a.outerStride() != t) {
    padded = Matrix::Zero(k * sr, t);
    padded.topRows(a.rows()) = a;
    base = padded.data();
  }
  Eigen::Map<const Matrix> blocks(base, k, sr * t);
  const Matrix coded = c * blocks;  // symbols x (sr * t)
  row = 0;
  for (const TaskSpec& task : tasks) {
    const int64_t n = static_cast<int64_t>(task.symbols.size());
    // Rows row..row+n-1 of `coded`, each one symbol of sr rows of t: a
    // row-major (n * sr) x t block, byte for byte.
    out.push_back(Eigen::Map<const Matrix>(coded.data() + row * sr * t, n * sr, t));
    row += n;
  }
  return out;
}

Decoder::Decoder(const Code& code) : code_(code) {}

absl::StatusOr<DecodeState> Decoder::Add(int64_t task_id, ConstMatrixRef result) {
  if (seen_.contains(task_id)) {
    return absl::AlreadyExistsError(absl::StrCat("duplicate result for task ", task_id));
  }
  ASSIGN_OR_RETURN(TaskSpec task, code_.Task(task_id));
  return Add(task, result);
}

absl::StatusOr<DecodeState> Decoder::Add(const TaskSpec& task, ConstMatrixRef result) {
  const int64_t task_id = task.id;
  if (seen_.contains(task_id)) {
    return absl::AlreadyExistsError(absl::StrCat("duplicate result for task ", task_id));
  }
  RETURN_IF_ERROR(code_.CheckTaskId(task_id));
  if (code_.variable_task_sizes() ? task.symbols.empty()
                                   : static_cast<int64_t>(task.symbols.size()) != code_.symbols_per_task()) {
    return absl::InvalidArgumentError(absl::StrCat("task ", task_id, " has ", task.symbols.size(),
                                                   " coded symbols; tasks of ", code_.name(), " have ",
                                                   code_.symbols_per_task()));
  }
  const int64_t want_rows = code_.TaskRows(task);
  if (result.rows() != want_rows) {
    return absl::InvalidArgumentError(absl::StrCat("result for task ", task_id, " has ", result.rows(),
                                                   " rows, expected ", want_rows));
  }
  if (result.cols() < 1 || (cols_ >= 0 && result.cols() != cols_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("result for task ", task_id, " has ", result.cols(), " columns, expected ",
                     cols_ >= 0 ? absl::StrCat(cols_) : std::string("at least 1")));
  }
  if (const int64_t bad = FirstNonFinite(result); bad >= 0) {
    const int64_t r = bad / result.cols(), c = bad % result.cols();
    return absl::InvalidArgumentError(absl::StrCat("result for task ", task_id, " has a non-finite value (",
                                                   result(r, c), ") at row ", r, ", column ", c));
  }
  if (decodable_) {
    seen_.insert(task_id);
    return DecodeState::kDecodable;
  }
  const int64_t old_cols = cols_;
  cols_ = result.cols();
  absl::StatusOr<bool> done = DoAdd(task, result);
  if (!done.ok()) {
    cols_ = old_cols;
    return done.status();
  }
  seen_.insert(task_id);
  stats_.tasks_added++;
  stats_.symbols_added += static_cast<int64_t>(task.symbols.size());
  if (*done) {
    decodable_ = true;
    stats_.tasks_at_decodable = stats_.tasks_added;
    stats_.symbols_at_decodable = stats_.symbols_added;
    return DecodeState::kDecodable;
  }
  return DecodeState::kNeedMore;
}

absl::StatusOr<Matrix> Decoder::Decode() {
  if (!decodable_) {
    return absl::FailedPreconditionError(absl::StrCat("not decodable yet: ", stats_.tasks_added, " task results of ",
                                                      code_.name(), " received"));
  }
  return DoDecode();
}

}  // namespace codedge
