// libFuzzer harness: every message a server or worker parses from the
// network, through the conversions to domain types (proto/wire.h,
// server/convert.h) and, when those accept, the code built from them.
// Built with -DCODEDGE_FUZZ=ON under clang (make fuzz).
#include <cstddef>
#include <cstdint>

#include "codes/factory.h"
#include "proto/codedge.pb.h"
#include "proto/wire.h"
#include "server/convert.h"

namespace codedge {
namespace {

// Small limits: the fuzzer should explore the checks, not allocate 1 GiB.
constexpr int64_t kMaxElements = int64_t{1} << 16;

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
  if (m.has_job_data()) (void)MatrixFromProto(m.job_data().b(), "B", kMaxElements);
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
