#include "server/convert.h"

#include "absl/strings/str_cat.h"

namespace codedge {

absl::StatusOr<CodeSpec> CodeSpecFromProto(const v1::StrategyProto& s) {
  if (s.spec().empty()) return absl::InvalidArgumentError("strategy: empty (e.g. \"mds:m=15,n=10\")");
  return ParseCodeSpec(s.spec());
}

}  // namespace codedge
