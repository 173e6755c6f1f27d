// absl::Status helpers. Errors cross module boundaries as absl::Status /
// absl::StatusOr (whose codes are gRPC's), never as exceptions.
#ifndef CODEDGE_COMMON_STATUS_H_
#define CODEDGE_COMMON_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CODEDGE_CONCAT_INNER_(a, b) a##b
#define CODEDGE_CONCAT_(a, b) CODEDGE_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    ::absl::Status codedge_status_ = (expr);                    \
    if (!codedge_status_.ok()) return codedge_status_;          \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` declares/assigns `x` from an
// absl::StatusOr or returns its error from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  CODEDGE_ASSIGN_OR_RETURN_IMPL_(CODEDGE_CONCAT_(codedge_statusor_, __LINE__), lhs, expr)

#define CODEDGE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return std::move(tmp).status();       \
  lhs = std::move(tmp).value()

#endif  // CODEDGE_COMMON_STATUS_H_
