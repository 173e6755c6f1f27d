// The adapter between wire messages (proto/codedge.proto) and the server's
// domain types. Matrices are packed by proto/wire.h (the worker needs them
// too); strategies are mapped here.
#ifndef CODEDGE_SERVER_CONVERT_H_
#define CODEDGE_SERVER_CONVERT_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "codes/factory.h"
#include "common/matrix.h"
#include "proto/codedge.pb.h"
#include "proto/wire.h"  // MatrixFromProto / MatrixToProto, shared with worker/

namespace codedge {

absl::StatusOr<CodeSpec> CodeSpecFromProto(const v1::StrategyProto& s);

}  // namespace codedge

#endif  // CODEDGE_SERVER_CONVERT_H_
