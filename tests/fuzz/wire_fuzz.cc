// libFuzzer harness: every message a server or worker parses from the
// network, through the conversions to domain types (proto/wire.h,
// server/convert.h) and, when those accept, the code built from them.
// Built with -DCODEDGE_FUZZ=ON under clang (make fuzz).
#include <cstddef>
#include <cstdint>

#include "codes/factory.h"
#include "codes/verify.h"
#include "common/row_op.h"
#include "proto/codedge.pb.h"
#include "proto/wire.h"
#include "server/convert.h"

namespace codedge {
namespace {

// Small limits: the fuzzer should explore the checks, not allocate 1 GiB.
constexpr int64_t kMaxElements = int64_t{1} << 16;

// B and its row operation as a worker takes them, and, when they fit and
// are small, the operation run on a task of two rows and checked as a
// verifying server would: the geometry arithmetic under ASan.
void JobData(const v1::JobData& d) {
  auto b = MatrixFromProto(d.b(), "B", kMaxElements);
  auto op = RowOpFromProto(d.op());
  if (!b.ok() || !op.ok()) return;
  const int64_t in_cols = op->InCols(b->rows());
  if (!CheckRowOp(*op, in_cols, b->rows(), b->cols()).ok()) return;
  const int64_t rows = 2, out_cols = op->OutCols(b->cols());
  if (op->MacsPerRow(in_cols, b->cols()) > kMaxElements || in_cols * rows > kMaxElements ||
      out_cols * rows > kMaxElements) {
    return;
  }
  Matrix task = Matrix::Ones(rows, in_cols), result(rows, out_cols), scratch;
  ApplyRowOp(*op, task, *b, Eigen::Map<Matrix>(result.data(), rows, out_cols), scratch);
  Pcg32 rng(1, 2);
  (void)FreivaldsCheck(task, *b, result, rng, 1e-3, *op);
}

void ServerMessage(const uint8_t* data, size_t size) {
  v1::ServerMessage m;
  if (!m.ParseFromArray(data, static_cast<int>(size))) return;
  if (m.has_task()) {
    auto block = TakeMatrixFromProto(m.mutable_task()->mutable_coded_rows(), "task", true, kMaxElements);
    if (block.ok() && m.task().total_rows() > block->rows()) {
      if (block->Reserve(m.task().total_rows(), "task", kMaxElements).ok()) {
        v1::MatrixProto again;
        if (block->field()) {
          FieldMatrixToProto(block->field_view(), &again);
        } else {
          MatrixToProto(block->view(), &again);
        }
        (void)block->Append(&again, "piece");
      }
    }
  }
  if (m.has_job_data()) JobData(m.job_data());
}

void WorkerMessage(const uint8_t* data, size_t size) {
  v1::WorkerMessage m;
  if (!m.ParseFromArray(data, static_cast<int>(size))) return;
  if (m.has_result()) {
    (void)MatrixFromProto(m.result().product(), "result", kMaxElements);
    (void)FieldMatrixFromProto(m.result().product(), "result", kMaxElements);
  }
}

void MultiplyRequest(const uint8_t* data, size_t size) {
  v1::MultiplyRequest m;
  if (!m.ParseFromArray(data, static_cast<int>(size))) return;
  auto a = MatrixFromProto(m.a(), "A", kMaxElements);
  auto b = MatrixFromProto(m.b(), "B", kMaxElements);
  auto spec = CodeSpecFromProto(m.strategy());
  if (!a.ok() || !b.ok() || !spec.ok() || a->cols() != b->rows()) return;
  if (spec->strategy == Strategy::kLt) spec->lt.symbols_per_task = std::min<int64_t>(spec->lt.symbols_per_task, 64);
  auto code = MakeCode(*spec, a->rows());
  if (!code.ok()) return;
  const int64_t tasks = std::min<int64_t>((*code)->num_tasks().value_or(4), 4);
  for (int64_t t = 0; t < tasks; ++t) {
    auto task = (*code)->Task(t);
    if (task.ok()) (void)(*code)->Encode(*task, *a);
  }
}

}  // namespace
}  // namespace codedge

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  switch (data[0] % 3) {
    case 0: codedge::ServerMessage(data + 1, size - 1); break;
    case 1: codedge::WorkerMessage(data + 1, size - 1); break;
    default: codedge::MultiplyRequest(data + 1, size - 1); break;
  }
  return 0;
}
