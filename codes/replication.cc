#include "codes/replication.h"

#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace codedge {
namespace {

// Copies each block's first result into place; later copies are ignored.
class BlockDecoder : public Decoder {
 public:
  explicit BlockDecoder(const Code& code)
      : Decoder(code), have_(static_cast<size_t>(code.layout().num_symbols), false) {}

 protected:
  absl::StatusOr<bool> DoAdd(const TaskSpec& task, ConstMatrixRef result) override {
    const SourceLayout& l = code().layout();
    if (out_.size() == 0) out_ = Matrix::Zero(l.rows, cols());
    const int32_t block = task.symbols[0].sources[0];
    if (!have_[block]) {
      have_[block] = true;
      ++filled_;
      const int64_t begin = l.SymbolBegin(block);
      const int64_t n = l.SymbolEnd(block) - begin;  // padding rows dropped
      out_.middleRows(begin, n) = result.topRows(n);
    }
    return filled_ == l.num_symbols;
  }
  absl::StatusOr<Matrix> DoDecode() override { return out_; }

 private:
  std::vector<bool> have_;
  int64_t filled_ = 0;
  Matrix out_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicationCode>> ReplicationCode::Create(int64_t rows, int64_t k, int64_t copies) {
  if (copies < 1) return absl::InvalidArgumentError(absl::StrCat("replication factor must be >= 1, got ", copies));
  ASSIGN_OR_RETURN(SourceLayout layout, SourceLayout::ForSymbolCount(rows, k));
  if (copies > std::numeric_limits<int32_t>::max() / k) {
    return absl::InvalidArgumentError(absl::StrCat("k * copies must be <= 2^31 - 1, got ", k, " * ", copies));
  }
  return std::unique_ptr<ReplicationCode>(new ReplicationCode(layout, copies));
}

std::string ReplicationCode::name() const {
  if (copies_ == 1) return absl::StrCat("uncoded(k=", layout().num_symbols, ")");
  return absl::StrCat("replication(r=", copies_, ",k=", layout().num_symbols, ")");
}

absl::Status ReplicationCode::CheckTaskId(int64_t id) const {
  const int64_t n = *num_tasks();
  if (id < 0 || id >= n) return absl::OutOfRangeError(absl::StrCat("task ", id, " out of range [0, ", n, ")"));
  return absl::OkStatus();
}

absl::StatusOr<TaskSpec> ReplicationCode::Task(int64_t id) const {
  RETURN_IF_ERROR(CheckTaskId(id));
  TaskSpec t;
  t.id = id;
  t.symbols.push_back(CodedSymbol{{static_cast<int32_t>(id % layout().num_symbols)}, {1.0}});
  return t;
}

std::unique_ptr<Decoder> ReplicationCode::NewDecoder() const { return std::make_unique<BlockDecoder>(*this); }

}  // namespace codedge
