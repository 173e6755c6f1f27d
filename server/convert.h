// The one adapter between wire messages (proto/codedge.proto) and domain
// types. Everything from the network is checked here: shapes, sizes, byte
// counts, finiteness; errors are InvalidArgument (or ResourceExhausted for
// oversized matrices) with a message naming the field.
#ifndef CODEDGE_SERVER_CONVERT_H_
#define CODEDGE_SERVER_CONVERT_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "codes/factory.h"
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

absl::StatusOr<CodeSpec> CodeSpecFromProto(const v1::StrategyProto& s);

}  // namespace codedge

#endif  // CODEDGE_SERVER_CONVERT_H_
