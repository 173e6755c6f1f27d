// Matrices on the wire: packed little-endian float32, row-major, with shape
// (proto/codedge.proto, MatrixProto). Hand-written helpers that live beside
// the generated code because both server/ and worker/ need them. Everything
// from the network is checked here: shape, size, byte count, finiteness;
// errors are InvalidArgument (ResourceExhausted for oversized matrices) with
// a message naming the field.
#ifndef CODEDGE_PROTO_WIRE_H_
#define CODEDGE_PROTO_WIRE_H_

#include <cstdint>

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
// Packs `m` (any strides) into `out`.
void MatrixToProto(ConstMatrixRef m, v1::MatrixProto* out);

}  // namespace codedge

#endif  // CODEDGE_PROTO_WIRE_H_
