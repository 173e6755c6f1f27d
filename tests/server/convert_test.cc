#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <tuple>

#include "common/matrix_util.h"
#include "server/convert.h"
#include "server/train_command.h"

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

TEST_CASE("Row operations round-trip through JobData; an unknown kind is refused", "[convert][bad-input]") {
  for (const RowOp& op : {RowOp(), RowOp{RowOp::Kind::kIm2colProduct, ConvGeometry{1, 28, 27, 16, 3, 5, 2, 1}},
                          RowOp{RowOp::Kind::kProductCol2im, ConvGeometry{1, 14, 14, 32, 3, 3, 1, 1}},
                          RowOp{RowOp::Kind::kIm2colTransposedProduct, ConvGeometry{50, 14, 14, 1, 3, 3, 1, 1}}}) {
    INFO(op.ToString());
    v1::JobData m;
    RowOpToProto(op, m.mutable_op());
    v1::JobData back_msg;
    REQUIRE(back_msg.ParseFromString(m.SerializeAsString()));
    auto back = RowOpFromProto(back_msg.op());
    REQUIRE(back.ok());
    CHECK(back->kind == op.kind);
    if (op.plain()) continue;
    const ConvGeometry &a = op.conv, &b = back->conv;
    CHECK(std::tie(a.n, a.h, a.w, a.c, a.kh, a.kw, a.stride, a.pad) ==
          std::tie(b.n, b.h, b.w, b.c, b.kh, b.kw, b.stride, b.pad));
  }
  v1::RowOp unknown;
  unknown.set_kind(static_cast<v1::RowOp::Kind>(7));
  CHECK(RowOpFromProto(unknown).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Field-element matrices round-trip and are told apart from float ones", "[convert][bad-input]") {
  Pcg32 rng(7, 8);
  FieldMatrix fm(5, 3);
  for (int64_t i = 0; i < fm.size(); ++i) fm.data()[i] = rng.NextU64() % kFieldPrime;
  fm(4, 2) = kFieldPrime - 1;
  v1::MatrixProto p;
  FieldMatrixToProto(fm, &p);
  CHECK(p.data().size() == 5 * 3 * 8);
  auto back = FieldMatrixFromProto(p, "result");
  REQUIRE(back.ok());
  CHECK(*back == fm);
  // Taken without a copy, viewed as field elements.
  v1::MatrixProto taken = p;
  auto w = TakeMatrixFromProto(&taken, "task rows");
  REQUIRE(w.ok());
  CHECK(w->field());
  CHECK(FieldMatrix(w->field_view()) == fm);
  // Neither reader accepts the other kind.
  auto as_float = MatrixFromProto(p, "result");
  CHECK(as_float.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(as_float.status().message().find("field elements where float32") != std::string_view::npos);
  v1::MatrixProto f;
  MatrixToProto(Matrix::Ones(2, 2), &f);
  CHECK(FieldMatrixFromProto(f, "result").status().code() == absl::StatusCode::kInvalidArgument);
  // p itself (non-canonical), a short buffer and an unknown element type.
  v1::MatrixProto big = p;
  reinterpret_cast<uint64_t*>(big.mutable_data()->data())[7] = kFieldPrime;
  auto st = FieldMatrixFromProto(big, "result");
  CHECK(st.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(st.status().message().find("row 2, column 1 is not in [0, 2^61 - 1)") != std::string_view::npos);
  v1::MatrixProto short_data = p;
  short_data.mutable_data()->resize(5 * 3 * 4);  // float-sized data for a field matrix
  CHECK(FieldMatrixFromProto(short_data, "result").status().code() == absl::StatusCode::kInvalidArgument);
  v1::MatrixProto unknown = f;
  unknown.set_element(static_cast<v1::ElementType>(7));
  CHECK(MatrixFromProto(unknown, "B").status().code() == absl::StatusCode::kInvalidArgument);
  // A field block cannot continue with float pieces.
  v1::MatrixProto first = p;
  auto block = TakeMatrixFromProto(&first, "task rows");
  REQUIRE(block.ok());
  REQUIRE(block->Reserve(7, "task").ok());
  v1::MatrixProto float_piece;
  MatrixToProto(Matrix::Ones(2, 3), &float_piece);
  CHECK(block->Append(&float_piece, "piece").code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("A task sent as header, raw block, trailer is the message protobuf would serialize", "[convert]") {
  Pcg32 rng(3, 4);
  // Ids and shapes around the varint length boundaries (1, 2, 3 and 4 byte
  // lengths) and proto3's omitted zero fields; whole blocks, first pieces
  // and later pieces.
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {1, 31}, {1, 32}, {3, 7}, {127, 1}, {100, 100},
                            {300, 1000}}) {
    for (auto [job, task] : {std::pair<uint64_t, int64_t>{0, 0}, {1, 5}, {1ull << 40, (int64_t{1} << 50) + 3}}) {
      for (int kind = 0; kind < 6; ++kind) {
        const bool piece = kind % 3 == 2;
        const bool field = kind >= 3;  // T-private blocks: uint64 field elements
        const int64_t total = kind % 3 == 1 ? rows * 3 + 1 : 0;
        const Matrix m = RandomUniformMatrix(rows, cols, rng);
        FieldMatrix fm(rows, cols);
        for (int64_t i = 0; i < fm.size(); ++i) fm.data()[i] = rng.NextU64() % kFieldPrime;
        auto pack = [&](v1::MatrixProto* out) {
          if (field) {
            FieldMatrixToProto(fm, out);
          } else {
            MatrixToProto(m, out);
          }
        };
        v1::ServerMessage expected;
        if (piece) {
          expected.mutable_task_piece()->set_job_id(job);
          expected.mutable_task_piece()->set_task_id(task);
          pack(expected.mutable_task_piece()->mutable_coded_rows());
        } else {
          expected.mutable_task()->set_job_id(job);
          expected.mutable_task()->set_task_id(task);
          expected.mutable_task()->set_total_rows(total);
          pack(expected.mutable_task()->mutable_coded_rows());
        }
        const BlockMessageFrame f = TaskBlockFrame(piece, job, task, rows, cols, total, field);
        std::string wire = f.header;
        if (field) {
          wire.append(reinterpret_cast<const char*>(fm.data()), static_cast<size_t>(fm.size()) * 8);
        } else {
          wire.append(reinterpret_cast<const char*>(m.data()), static_cast<size_t>(m.size()) * 4);
        }
        wire += f.trailer;
        CHECK(wire == expected.SerializeAsString());
        v1::ServerMessage parsed;
        REQUIRE(parsed.ParseFromString(wire));
        const v1::MatrixProto& got = piece ? parsed.task_piece().coded_rows() : parsed.task().coded_rows();
        if (field) {
          auto back = FieldMatrixFromProto(got, "rows");
          REQUIRE(back.ok());
          CHECK(*back == fm);
        } else {
          auto back = MatrixFromProto(got, "rows");
          REQUIRE(back.ok());
          CHECK(*back == m);
        }
      }
    }
  }
}

TEST_CASE("A block arriving in pieces is reassembled row for row, and bad pieces are refused", "[convert][bad-input]") {
  Pcg32 rng(5, 6);
  const Matrix whole = RandomUniformMatrix(10, 3, rng);
  auto piece = [&](int64_t first, int64_t rows) {
    v1::MatrixProto p;
    MatrixToProto(whole.middleRows(first, rows), &p);
    return p;
  };
  v1::MatrixProto first = piece(0, 4);
  auto block = TakeMatrixFromProto(&first, "task rows");
  REQUIRE(block.ok());
  CHECK(block->Reserve(3, "task").code() == absl::StatusCode::kInvalidArgument);  // fewer than it has
  CHECK(block->Reserve(int64_t{1} << 40, "task").code() == absl::StatusCode::kResourceExhausted);
  REQUIRE(block->Reserve(10, "task").ok());
  v1::MatrixProto wrong_cols;
  MatrixToProto(Matrix::Ones(2, 4), &wrong_cols);
  CHECK(block->Append(&wrong_cols, "piece").code() == absl::StatusCode::kInvalidArgument);
  v1::MatrixProto too_many = piece(0, 7);
  CHECK(block->Append(&too_many, "piece").code() == absl::StatusCode::kInvalidArgument);
  v1::MatrixProto nan = piece(4, 2);
  reinterpret_cast<float*>(nan.mutable_data()->data())[1] = std::numeric_limits<float>::quiet_NaN();
  CHECK(block->Append(&nan, "piece").code() == absl::StatusCode::kInvalidArgument);
  CHECK(block->rows() == 4);  // refused pieces leave it as it was
  v1::MatrixProto second = piece(4, 5), third = piece(9, 1);
  REQUIRE(block->Append(&second, "piece").ok());
  REQUIRE(block->Append(&third, "piece").ok());
  CHECK(block->rows() == 10);
  CHECK(Matrix(block->view()) == whole);
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

namespace codedge {
namespace {

TEST_CASE("Training sizes LT symbols per product unless symbol_rows is asked for", "[convert][train]") {
  auto lt = TrainingCodeSpec("lt");
  REQUIRE(lt.ok());
  CHECK(lt->strategy == Strategy::kLt);
  CHECK(lt->lt.symbol_rows == kAutoLtSymbolRows);
  auto lt_c = TrainingCodeSpec("lt:c=0.05");
  REQUIRE(lt_c.ok());
  CHECK(lt_c->lt.symbol_rows == kAutoLtSymbolRows);
  // ~100 symbols of 1-64 rows: vgg-mini's products at batch 50.
  CHECK(AutoLtSymbolRows(39200) == 64);  // convolution forward: k = 613
  CHECK(AutoLtSymbolRows(9800) == 64);
  CHECK(AutoLtSymbolRows(1568) == 16);   // fully connected weight gradient: k = 98
  CHECK(AutoLtSymbolRows(288) == 3);     // convolution weight gradients: k = 96
  CHECK(AutoLtSymbolRows(144) == 2);
  CHECK(AutoLtSymbolRows(50) == 1);      // fully connected forward: k = 50
  CHECK(AutoLtSymbolRows(1) == 1);
  CHECK(lt_c->lt.c == 0.05);
  auto rows1 = TrainingCodeSpec("lt:symbol_rows=1");
  REQUIRE(rows1.ok());
  CHECK(rows1->lt.symbol_rows == 1);
  auto mds = TrainingCodeSpec("mds:m=15,n=10");
  REQUIRE(mds.ok());
  CHECK(mds->m == 15);
  CHECK(TrainingCodeSpec("fountain").status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge
