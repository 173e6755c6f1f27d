// Uncoded and r-replication strategies (paper, sec. 3.3): A is cut into k row
// blocks; task i carries block i mod k unchanged. Uncoded is replication with
// r = 1. Decodable once every block has one result (any copy).
//
// Every task exposes its block's raw rows to the worker (see Exposure).
#ifndef CODEDGE_CODES_REPLICATION_H_
#define CODEDGE_CODES_REPLICATION_H_

#include <memory>

#include "absl/status/statusor.h"
#include "codes/code.h"

namespace codedge {

class ReplicationCode : public Code {
 public:
  // rows >= 1, k >= 1, copies >= 1; InvalidArgument otherwise.
  static absl::StatusOr<std::unique_ptr<ReplicationCode>> Create(int64_t rows, int64_t k, int64_t copies);

  std::string name() const override;
  std::optional<int64_t> num_tasks() const override { return layout().num_symbols * copies_; }
  // Task id = copy * k + block: the first k tasks are one full copy.
  absl::StatusOr<TaskSpec> Task(int64_t id) const override;
  absl::Status CheckTaskId(int64_t id) const override;
  int64_t symbols_per_task() const override { return 1; }
  std::unique_ptr<Decoder> NewDecoder() const override;

  int64_t copies() const { return copies_; }

 private:
  ReplicationCode(SourceLayout layout, int64_t copies) : Code(layout), copies_(copies) {}
  int64_t copies_;
};

// The uncoded strategy: k tasks, one per block.
inline absl::StatusOr<std::unique_ptr<ReplicationCode>> CreateUncodedCode(int64_t rows, int64_t k) {
  return ReplicationCode::Create(rows, k, 1);
}

}  // namespace codedge

#endif  // CODEDGE_CODES_REPLICATION_H_
