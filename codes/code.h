// The Code / Decoder interfaces: how A (rows x t) is cut into k source
// symbols, how each coded task combines them, and how A·B is recovered from
// the products of some coded tasks with B.
//
//   A (rows x t) ──cut into k source symbols of `symbol_rows` rows──► A_0 .. A_{k-1}
//   (the last symbol is zero-padded when rows % symbol_rows != 0)
//   task i = [ sum_j c_{s,j} A_j  for each coded symbol s of the task ]
//            ── a (symbols * symbol_rows) x t float block, sent to a worker
//   worker returns task_i · B                ((symbols * symbol_rows) x cols)
//   Decoder::Add(i, task_i · B) ... until kDecodable, then Decode() = A·B
//
// Encoding (Code::Encode), choosing a decodable subset (the decoder, as
// results arrive) and decoding (Decoder::Decode) are separate steps, so a
// server can encode lazily, decode incrementally and cancel the rest.
//
// Thread safety: a Code is immutable after construction and may be shared by
// threads. A Decoder is not thread-safe (one per job, guarded by its owner).
// A Decoder refers to the Code that made it: the Code must outlive it.
#ifndef CODEDGE_CODES_CODE_H_
#define CODEDGE_CODES_CODE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/matrix.h"

namespace codedge {

// How the rows of A are cut into k source symbols.
struct SourceLayout {
  int64_t rows = 0;         // rows of A
  int64_t symbol_rows = 0;  // rows per source symbol
  int64_t num_symbols = 0;  // k = ceil(rows / symbol_rows)

  // k symbols of ceil(rows / k) rows each (k may exceed rows: the extra
  // symbols are all padding). InvalidArgument if rows < 1, k < 1 or
  // k > 2^31 - 1.
  static absl::StatusOr<SourceLayout> ForSymbolCount(int64_t rows, int64_t k);
  // Symbols of min(symbol_rows, rows) rows each. InvalidArgument if either is
  // < 1 or the symbol count exceeds 2^31 - 1.
  static absl::StatusOr<SourceLayout> ForSymbolRows(int64_t rows, int64_t symbol_rows);

  // Rows of A covered by symbol s: [SymbolBegin(s), SymbolEnd(s)), possibly
  // empty for trailing all-padding symbols.
  int64_t SymbolBegin(int64_t s) const;
  int64_t SymbolEnd(int64_t s) const;
};

// One coded symbol: sum over i of coeffs[i] * A_{sources[i]}. `sources` is
// sorted and distinct; coefficients are exactly representable in float, so a
// float encoder and a double decoder use the very same numbers.
struct CodedSymbol {
  std::vector<int32_t> sources;
  std::vector<double> coeffs;
};

// One coded task as a worker sees it: `symbols.size() * symbol_rows` rows.
struct TaskSpec {
  int64_t id = 0;
  std::vector<CodedSymbol> symbols;
};

// What a coded task reveals about A (DESIGN.md, Security). A degree-1 symbol
// is a scaled copy of raw rows of A.
struct TaskExposure {
  std::vector<int32_t> touched_symbols;  // sorted source symbols combined in the task
  int64_t touched_rows = 0;              // rows of A those symbols cover
  int64_t raw_rows_exposed = 0;          // rows of A sent as (scaled) plain copies
};
TaskExposure Exposure(const TaskSpec& task, const SourceLayout& layout);

enum class DecodeState { kNeedMore, kDecodable };

struct DecoderStats {
  int64_t tasks_added = 0;      // accepted results
  int64_t symbols_added = 0;    // coded symbols in them
  int64_t tasks_at_decodable = 0;    // tasks accepted when it became decodable
  int64_t symbols_at_decodable = 0;  // symbols accepted when it became decodable
  int64_t elimination_attempts = 0;  // LT only: Gaussian-elimination tries
  int64_t inactivations = 0;         // LT only: in the successful elimination
  bool integer_core = false;         // LT only: that elimination's core was built in int32
  // LT only, after Decode(): received symbols whose sources were all known
  // anyway, and the largest |residual| / |value| among them -- a free
  // a-posteriori estimate of the decode error.
  int64_t redundant_symbols = 0;
  double worst_redundant_residual = 0;
  // LT only: how much the decode amplifies the workers' relative rounding
  // error, measured by a probe solve on the final structure (see
  // LtParams::max_error_amplification), and how many times the probe asked
  // for more symbols.
  double estimated_amplification = 0;
  int64_t accuracy_waits = 0;
};

class Code;

// Incremental decoder for one product A·B. Not thread-safe.
class Decoder {
 public:
  explicit Decoder(const Code& code);
  virtual ~Decoder() = default;
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Adds the worker's result for task `task_id`: (its coded rows) · B, of
  // shape (task symbols * symbol_rows) x cols, cols equal for all results.
  // Returns kNeedMore or kDecodable ("need more" is not an error). Results
  // after decodability are checked and then ignored.
  // Errors (the decoder is unchanged): OutOfRange for a task id the code does
  // not have, AlreadyExists for a second result of one task, InvalidArgument
  // for a wrong shape or a NaN/Inf entry.
  absl::StatusOr<DecodeState> Add(int64_t task_id, ConstMatrixRef result);

  // The same, for a task the caller already holds (it encoded it): saves
  // regenerating the task's symbols. `task` must be what code().Task(task.id)
  // returned; its id (OutOfRange) and symbol count (InvalidArgument) are
  // checked, its coefficients are trusted.
  absl::StatusOr<DecodeState> Add(const TaskSpec& task, ConstMatrixRef result);

  bool decodable() const { return decodable_; }

  // A·B, layout.rows x cols. FailedPrecondition until decodable.
  absl::StatusOr<Matrix> Decode();

  const DecoderStats& stats() const { return stats_; }
  const Code& code() const { return code_; }

 protected:
  // Called with a validated, new result. Returns true once decodable.
  virtual absl::StatusOr<bool> DoAdd(const TaskSpec& task, ConstMatrixRef result) = 0;
  // Called once decodable; `cols` is the result width.
  virtual absl::StatusOr<Matrix> DoDecode() = 0;

  int64_t cols() const { return cols_; }
  DecoderStats stats_;

 private:
  const Code& code_;
  absl::flat_hash_set<int64_t> seen_;
  int64_t cols_ = -1;
  bool decodable_ = false;
};

class Code {
 public:
  explicit Code(SourceLayout layout) : layout_(layout) {}
  virtual ~Code() = default;
  Code(const Code&) = delete;
  Code& operator=(const Code&) = delete;

  // Short human-readable description, e.g. "mds(15,10,systematic)".
  virtual std::string name() const = 0;
  const SourceLayout& layout() const { return layout_; }

  // Number of coded tasks for fixed-rate codes; nullopt for rateless codes,
  // which generate task i on demand for any i >= 0.
  virtual std::optional<int64_t> num_tasks() const = 0;

  // Describes task `id`. OutOfRange for id < 0 or id >= num_tasks().
  virtual absl::StatusOr<TaskSpec> Task(int64_t id) const = 0;

  // OK if `id` names a task of this code; OutOfRange otherwise.
  virtual absl::Status CheckTaskId(int64_t id) const = 0;
  // Coded symbols in every task (all tasks of a code have the same size).
  virtual int64_t symbols_per_task() const = 0;

  // Rateless codes may also cut tasks of any size: task `id` made of the
  // `count` coded symbols first_symbol.. (a server sizes tasks to each
  // worker's speed). Unimplemented for fixed-rate codes; InvalidArgument for
  // count < 1 or symbols out of range.
  virtual absl::StatusOr<TaskSpec> TaskOfSymbols(int64_t id, int64_t first_symbol, int64_t count) const;
  virtual bool variable_task_sizes() const { return false; }

  // Rows of a task's coded block (symbols * symbol_rows).
  int64_t TaskRows(const TaskSpec& task) const {
    return static_cast<int64_t>(task.symbols.size()) * layout_.symbol_rows;
  }

  // The coded block of `task` from A (layout.rows x t): TaskRows x t, float.
  // InvalidArgument if A has the wrong number of rows.
  absl::StatusOr<Matrix> Encode(const TaskSpec& task, ConstMatrixRef a) const;

  // The coded blocks of several tasks at once. When their coefficients are
  // dense (MDS), this is one matrix product C (symbols x k) . A viewed as
  // k x (symbol_rows * t), reading A once instead of once per task; sparse
  // tasks (LT) fall back to Encode.
  absl::StatusOr<std::vector<Matrix>> EncodeTasks(std::span<const TaskSpec> tasks, ConstMatrixRef a) const;

  // When the task's coded rows are a contiguous block of A's rows, unchanged
  // and unpadded (uncoded and replicated blocks, systematic MDS tasks), the
  // block [begin, end) of A's rows: a server can send it straight from A,
  // without Encode's copy. nullopt otherwise.
  std::optional<std::pair<int64_t, int64_t>> PlainBlock(const TaskSpec& task) const;

  virtual std::unique_ptr<Decoder> NewDecoder() const = 0;

 private:
  SourceLayout layout_;
};

}  // namespace codedge

#endif  // CODEDGE_CODES_CODE_H_
