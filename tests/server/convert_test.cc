#include <catch2/catch.hpp>

#include <cstring>
#include <limits>

#include "common/matrix_util.h"
#include "server/convert.h"

namespace codedge {
namespace {

TEST_CASE("Matrices round-trip through the wire format bit for bit", "[convert]") {
  Pcg32 rng(1, 2);
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {100, 1}, {1, 100}}) {
    const Matrix m = RandomUniformMatrix(rows, cols, rng);
    v1::MatrixProto p;
    MatrixToProto(m, &p);
    CHECK(p.data().size() == static_cast<size_t>(rows * cols * 4));
    auto back = MatrixFromProto(p, "m");
    REQUIRE(back.ok());
    CHECK(std::memcmp(back->data(), m.data(), static_cast<size_t>(rows * cols) * 4) == 0);
  }
  // A strided view packs only its own elements.
  const Matrix wide = RandomUniformMatrix(4, 9, rng);
  v1::MatrixProto p;
  MatrixToProto(wide.leftCols(3), &p);
  auto back = MatrixFromProto(p, "view");
  REQUIRE(back.ok());
  CHECK(*back == wide.leftCols(3));
}

TEST_CASE("TakeMatrixFromProto moves the bytes out and views them unchanged", "[convert]") {
  Pcg32 rng(3, 4);
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {2, 3}, {300, 17}}) {
    const Matrix m = RandomUniformMatrix(rows, cols, rng);
    v1::MatrixProto p;
    MatrixToProto(m, &p);
    auto w = TakeMatrixFromProto(&p, "m");
    REQUIRE(w.ok());
    CHECK(p.data().empty());  // taken, not copied
    CHECK(w->rows() == rows);
    CHECK(w->cols() == cols);
    CHECK(Matrix(w->view()) == m);
    WireMatrix moved = *std::move(w);  // small (inline) strings move too
    CHECK(Matrix(moved.view()) == m);
  }
  // The same validation as MatrixFromProto; finiteness only on request.
  Matrix bad = Matrix::Ones(2, 2);
  bad(1, 0) = std::numeric_limits<float>::quiet_NaN();
  v1::MatrixProto p;
  MatrixToProto(bad, &p);
  v1::MatrixProto copy = p;
  auto st = TakeMatrixFromProto(&p, "rows");
  CHECK(st.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(st.status().message().find("rows: non-finite value at row 1, column 0") != std::string_view::npos);
  CHECK(TakeMatrixFromProto(&copy, "rows", /*check_finite=*/false).ok());
  v1::MatrixProto short_data;
  short_data.set_rows(2);
  short_data.set_cols(2);
  short_data.set_data(std::string(12, '\0'));
  CHECK(TakeMatrixFromProto(&short_data, "x").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Malformed matrices from the network get clear errors", "[convert][bad-input]") {
  v1::MatrixProto p;
  p.set_rows(0);
  p.set_cols(3);
  auto st = MatrixFromProto(p, "A");
  CHECK(st.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(st.status().message().find("A: shape 0x3") != std::string_view::npos);

  p.set_rows(2);
  p.set_data(std::string(23, '\0'));  // 2x3 needs 24 bytes
  st = MatrixFromProto(p, "B");
  CHECK(st.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(st.status().message().find("expected 24") != std::string_view::npos);

  p.set_rows(int64_t{1} << 40);
  p.set_cols(int64_t{1} << 40);  // rows * cols overflows int64: must not wrap
  CHECK(MatrixFromProto(p, "C").status().code() == absl::StatusCode::kResourceExhausted);
  p.set_rows(1000);
  p.set_cols(1000);
  CHECK(MatrixFromProto(p, "C", /*max_elements=*/1000).status().code() == absl::StatusCode::kResourceExhausted);

  Matrix nan = Matrix::Zero(2, 2);
  nan(1, 0) = std::numeric_limits<float>::quiet_NaN();
  MatrixToProto(nan, &p);
  st = MatrixFromProto(p, "result");
  CHECK(st.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(st.status().message().find("row 1, column 0") != std::string_view::npos);
}

TEST_CASE("Strategies from the network parse or fail clearly", "[convert][bad-input]") {
  v1::StrategyProto s;
  CHECK(CodeSpecFromProto(s).status().code() == absl::StatusCode::kInvalidArgument);
  s.set_spec("mds:m=15,n=10");
  auto spec = CodeSpecFromProto(s);
  REQUIRE(spec.ok());
  CHECK(spec->m == 15);
  s.set_spec("fountain");
  CHECK(CodeSpecFromProto(s).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge
