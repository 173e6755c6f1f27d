#include <catch2/catch.hpp>

#include <cmath>

#include <limits>

#include "codes/lt.h"
#include "codes/mds.h"
#include "codes/replication.h"
#include "tests/codes/test_util.h"

namespace codedge {
namespace {
using namespace codedge::testing;

TEST_CASE("Bad code parameters give InvalidArgument", "[bad-input]") {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  CHECK(CreateUncodedCode(10, 0).status().code() == kInvalid);
  CHECK(CreateUncodedCode(0, 3).status().code() == kInvalid);
  CHECK(ReplicationCode::Create(10, 2, 0).status().code() == kInvalid);
  CHECK(MdsCode::Create(10, 4, 5).status().code() == kInvalid);  // m < n
  CHECK(MdsCode::Create(10, 5, 0).status().code() == kInvalid);
  CHECK(MdsCode::Create(0, 5, 3).status().code() == kInvalid);
  LtParams p;
  CHECK(LtCode::Create(0, p).status().code() == kInvalid);
  p.c = -0.1;  // (0 is the default: c by k)
  CHECK(LtCode::Create(10, p).status().code() == kInvalid);
  p = LtParams{};
  p.delta = 1.0;
  CHECK(LtCode::Create(10, p).status().code() == kInvalid);
  p = LtParams{};
  p.symbol_rows = 0;
  CHECK(LtCode::Create(10, p).status().code() == kInvalid);
  p = LtParams{};
  p.symbols_per_task = -1;
  CHECK(LtCode::Create(10, p).status().code() == kInvalid);
  CHECK(RobustSoliton(0, 0.1, 0.5).status().code() == kInvalid);
  CHECK(RobustSoliton(100, 1e-300, 0.5).ok());  // tiny c: spike clamped, no overflow
  p = LtParams{};
  p.max_error_amplification = 0.5;  // unreachable: would wait forever
  CHECK(LtCode::Create(10, p).status().code() == kInvalid);
  p.max_error_amplification = -1;
  CHECK(LtCode::Create(10, p).status().code() == kInvalid);
  p = LtParams{};
  p.decode_threads = -1;
  CHECK(LtCode::Create(10, p).status().code() == kInvalid);
  for (double surplus : {-0.01, 1.5, std::nan("")}) {
    p = LtParams{};
    p.elimination_surplus = surplus;
    CHECK(LtCode::Create(10, p).status().code() == kInvalid);
  }
  // Sizes beyond the int32 symbol ids or float32 range.
  CHECK(CreateUncodedCode(10, int64_t{1} << 32).status().code() == kInvalid);
  CHECK(ReplicationCode::Create(10, 1 << 20, 1 << 12).status().code() == kInvalid);
  CHECK(MdsCode::Create(100, 60, 58, MdsGenerator::kVandermondeEquispaced).status().code() == kInvalid);
  // A huge symbol size is clamped to the rows there are.
  p = LtParams{};
  p.symbol_rows = int64_t{1} << 40;
  auto lt = LtCode::Create(10, p);
  REQUIRE(lt.ok());
  CHECK((*lt)->layout().symbol_rows == 10);
  CHECK((*lt)->k() == 1);
}

TEST_CASE("A rejected result leaves the decoder and its stats untouched", "[bad-input]") {
  Pcg32 rng(8, 1);
  const Matrix a = RandomMatrix(20, 3, rng), b = RandomMatrix(3, 2, rng);
  auto code = MdsCode::Create(20, 6, 4);
  REQUIRE(code.ok());
  auto dec = (*code)->NewDecoder();
  const TaskSpec t0 = *(*code)->Task(0);
  const Matrix r0 = *(*code)->Encode(t0, a) * b;
  REQUIRE(dec->Add(t0, r0).ok());
  const DecoderStats before = dec->stats();
  // Wrong symbol count through the TaskSpec overload (no out-of-bounds read).
  TaskSpec bad = *(*code)->Task(1);
  bad.symbols.push_back(bad.symbols[0]);
  CHECK(dec->Add(bad, Matrix::Zero(r0.rows() * 3 / 2, r0.cols())).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(dec->Add(1, Matrix::Zero(r0.rows(), r0.cols() + 1)).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(dec->stats().tasks_added == before.tasks_added);
  CHECK(dec->stats().symbols_added == before.symbols_added);
  // Task 1 was never accepted: it can still be added, and decoding finishes.
  for (int64_t id = 1; id < 4; ++id) REQUIRE(dec->Add(id, *(*code)->Encode(*(*code)->Task(id), a) * b).ok());
  REQUIRE(dec->decodable());
  CHECK(RelError(*dec->Decode(), ExactProduct(a, b)) < 1e-5);
}

TEST_CASE("Decoders reject bad results with a clear Status and stay usable", "[bad-input]") {
  Pcg32 rng(3, 3);
  const Matrix a = RandomMatrix(12, 4, rng), b = RandomMatrix(4, 3, rng);
  const MatrixD exact = ExactProduct(a, b);
  std::vector<std::unique_ptr<Code>> codes;
  codes.push_back(*CreateUncodedCode(12, 4));
  codes.push_back(*ReplicationCode::Create(12, 4, 2));
  codes.push_back(*MdsCode::Create(12, 6, 4));
  LtParams p;
  p.symbols_per_task = 2;
  codes.push_back(*LtCode::Create(12, p));
  for (const auto& code : codes) {
    INFO(code->name());
    auto dec = code->NewDecoder();
    CHECK(dec->Decode().status().code() == absl::StatusCode::kFailedPrecondition);
    const Matrix r0 = *code->Encode(*code->Task(0), a) * b;

    CHECK(dec->Add(-1, r0).status().code() == absl::StatusCode::kOutOfRange);
    if (code->num_tasks()) {
      CHECK(dec->Add(*code->num_tasks(), r0).status().code() == absl::StatusCode::kOutOfRange);
    }
    CHECK(dec->Add(std::numeric_limits<int64_t>::max(), r0).status().code() == absl::StatusCode::kOutOfRange);
    CHECK(dec->Add(0, r0.topRows(r0.rows() - 1)).status().code() == absl::StatusCode::kInvalidArgument);
    Matrix nan = r0;
    nan(0, 1) = std::numeric_limits<float>::quiet_NaN();
    auto st = dec->Add(0, nan);
    CHECK(st.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(st.status().message().find("non-finite") != std::string_view::npos);
    Matrix inf = r0;
    inf(0, 0) = std::numeric_limits<float>::infinity();
    CHECK(dec->Add(0, inf).status().code() == absl::StatusCode::kInvalidArgument);

    REQUIRE(dec->Add(0, r0).ok());
    CHECK(dec->Add(0, r0).status().code() == absl::StatusCode::kAlreadyExists);
    const Matrix r1 = *code->Encode(*code->Task(1), a) * b;
    Matrix wide(r1.rows(), r1.cols() + 1);
    wide.setZero();
    CHECK(dec->Add(1, wide).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(code->Encode(*code->Task(1), a.topRows(11)).status().code() == absl::StatusCode::kInvalidArgument);

    // After all those rejections, the rest still decodes exactly.
    bool done = false;
    for (int64_t id = 1; !done && id < 200; ++id) {
      auto s = dec->Add(id, *code->Encode(*code->Task(id), a) * b);
      REQUIRE(s.ok());
      done = *s == DecodeState::kDecodable;
    }
    REQUIRE(done);
    CHECK(RelError(*dec->Decode(), exact) < 1e-4);
  }
}

}  // namespace
}  // namespace codedge
