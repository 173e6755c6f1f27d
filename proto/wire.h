// Matrices on the wire: packed little-endian float32, row-major, with shape
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
#include "proto/codedge.pb.h"

namespace codedge {

// Default bound on one matrix from the network: 256 Mi elements (1 GiB).
inline constexpr int64_t kMaxWireElements = int64_t{1} << 28;

// `what` names the field in error messages ("A", "result of task 3", ...).
absl::StatusOr<Matrix> MatrixFromProto(const v1::MatrixProto& m, absl::string_view what,
                                       int64_t max_elements = kMaxWireElements);
// A matrix that keeps the bytes it arrived in: the packed data are taken
// out of the message (no copy) and viewed as a row-major float matrix. For
// large task blocks this saves a copy of every byte on the worker.
class WireMatrix {
 public:
  WireMatrix() = default;
  Eigen::Map<const Matrix> view() const {
    return Eigen::Map<const Matrix>(reinterpret_cast<const float*>(bytes_.data()), rows_, cols_);
  }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }

 private:
  friend absl::StatusOr<WireMatrix> TakeMatrixFromProto(v1::MatrixProto* m, absl::string_view what,
                                                        bool check_finite, int64_t max_elements);
  std::string bytes_;
  int64_t rows_ = 0, cols_ = 0;
};

// Validates like MatrixFromProto (finiteness only if `check_finite`) and
// moves the data out of `m`, which is left empty.
absl::StatusOr<WireMatrix> TakeMatrixFromProto(v1::MatrixProto* m, absl::string_view what, bool check_finite = true,
                                               int64_t max_elements = kMaxWireElements);

// Packs `m` (any strides) into `out`.
void MatrixToProto(ConstMatrixRef m, v1::MatrixProto* out);

}  // namespace codedge

#endif  // CODEDGE_PROTO_WIRE_H_
