#include <catch2/catch.hpp>

#include "common/logging.h"
#include "common/status.h"

namespace codedge {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST_CASE("Status macros propagate errors and values", "[status]") {
  CHECK(*Quarter(8) == 2);
  CHECK(Quarter(6).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckEven(4).ok());
  CHECK(CheckEven(3).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("SetLogLevel rejects unknown levels", "[logging]") {
  CHECK(SetLogLevel("warn").ok());
  CHECK(SetLogLevel("off").ok());
  CHECK(SetLogLevel("loud").code() == absl::StatusCode::kInvalidArgument);
  CHECK(SetLogLevel("info").ok());
}

}  // namespace
}  // namespace codedge
