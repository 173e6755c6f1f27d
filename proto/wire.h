// Matrices on the wire: packed little-endian float32 (or, for the T-private
// strategy, uint64 elements of F_p), row-major, with shape
// (proto/codedge.proto, MatrixProto). Hand-written helpers that live beside
// the generated code because both server/ and worker/ need them. Everything
// from the network is checked here: shape, size, byte count, finiteness;
// errors are InvalidArgument (ResourceExhausted for oversized matrices) with
// a message naming the field.
#ifndef CODEDGE_PROTO_WIRE_H_
#define CODEDGE_PROTO_WIRE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/matrix.h"
#include "common/row_op.h"
#include "proto/codedge.pb.h"

namespace codedge {

// Default bound on one matrix from the network: 256 Mi elements (1 GiB).
inline constexpr int64_t kMaxWireElements = int64_t{1} << 28;

// The most task credits (free slots) a server holds for one worker; a
// worker asks for at most this many.
inline constexpr int kMaxWorkerCredits = 64;

// `what` names the field in error messages ("A", "result of task 3", ...).
// InvalidArgument for a field-element matrix.
absl::StatusOr<Matrix> MatrixFromProto(const v1::MatrixProto& m, absl::string_view what,
                                       int64_t max_elements = kMaxWireElements);
// A field-element matrix (ELEMENT_FIELD_P61); InvalidArgument for a float
// one or an element outside [0, p).
absl::StatusOr<FieldMatrix> FieldMatrixFromProto(const v1::MatrixProto& m, absl::string_view what,
                                                 int64_t max_elements = kMaxWireElements);
// A matrix that keeps the bytes it arrived in: the packed data are taken
// out of the message (no copy) and viewed as a row-major float matrix. For
// large task blocks this saves a copy of every byte on the worker.
class WireMatrix {
 public:
  WireMatrix() = default;
  // float32 elements (field() false) ...
  Eigen::Map<const Matrix> view() const {
    return Eigen::Map<const Matrix>(reinterpret_cast<const float*>(bytes_.data()), rows_, cols_);
  }
  // ... or field elements (field() true).
  bool field() const { return field_; }
  Eigen::Map<const FieldMatrix> field_view() const {
    return Eigen::Map<const FieldMatrix>(reinterpret_cast<const uint64_t*>(bytes_.data()), rows_, cols_);
  }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }

  // For a block arriving in pieces: makes room for `total_rows` rows
  // (InvalidArgument if fewer than it has, ResourceExhausted above
  // max_elements) and appends the next piece's rows (InvalidArgument on a
  // shape mismatch or overflow). Validated like TakeMatrixFromProto.
  absl::Status Reserve(int64_t total_rows, absl::string_view what, int64_t max_elements = kMaxWireElements);
  absl::Status Append(v1::MatrixProto* piece, absl::string_view what, bool check_finite = true);
  int64_t capacity_rows() const { return capacity_rows_; }

 private:
  friend absl::StatusOr<WireMatrix> TakeMatrixFromProto(v1::MatrixProto* m, absl::string_view what,
                                                        bool check_finite, int64_t max_elements);
  std::string bytes_;
  int64_t rows_ = 0, cols_ = 0, capacity_rows_ = 0;
  bool field_ = false;
};

// Validates like MatrixFromProto (finiteness only if `check_finite`; field
// elements are not range-checked here: any uint64 multiplies safely) and
// moves the data out of `m`, which is left empty. Either element type.
absl::StatusOr<WireMatrix> TakeMatrixFromProto(v1::MatrixProto* m, absl::string_view what, bool check_finite = true,
                                               int64_t max_elements = kMaxWireElements);

// A job's RowOp (common/row_op.h) on the wire. RowOpFromProto refuses an
// unknown kind and a geometry CheckConvGeometry refuses (InvalidArgument).
void RowOpToProto(const RowOp& op, v1::RowOp* out);
absl::StatusOr<RowOp> RowOpFromProto(const v1::RowOp& m);

// Packs `m` (any strides) into `out`.
void MatrixToProto(ConstMatrixRef m, v1::MatrixProto* out);
void FieldMatrixToProto(ConstFieldMatrixRef m, v1::MatrixProto* out);

// A task's block (or a piece of it) on the wire without a copy: header, the
// rows * cols * 4 (field: * 8) data bytes straight from the sender's memory,
// trailer -- byte for byte what protobuf serializes for
//   ServerMessage{task{job_id, task_id, coded_rows{rows, cols, data, element}, total_rows}}
// (piece = false; total_rows 0 for a whole block) or
//   ServerMessage{task_piece{job_id, task_id, coded_rows{rows, cols, data, element}}}
// (piece = true); element is ELEMENT_FIELD_P61 when `field`. A server sends a block from its own memory this way: no
// copy into a message, no serialisation pass.
struct BlockMessageFrame {
  std::string header, trailer;
};
BlockMessageFrame TaskBlockFrame(bool piece, uint64_t job_id, int64_t task_id, int64_t rows, int64_t cols,
                                 int64_t total_rows = 0, bool field = false);

}  // namespace codedge

#endif  // CODEDGE_PROTO_WIRE_H_
