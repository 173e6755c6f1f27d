#include "proto/wire.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/matrix_util.h"

namespace codedge {

// The wire format is little-endian float32; every platform we build for
// (x86-64, arm64) is little-endian, so bytes are copied as they are.
static_assert(std::endian::native == std::endian::little, "codedge's wire format assumes a little-endian host");

namespace {

int64_t ElementBytes(const v1::MatrixProto& m) { return m.element() == v1::ELEMENT_FIELD_P61 ? 8 : 4; }

absl::Status CheckShape(const v1::MatrixProto& m, absl::string_view what, int64_t max_elements) {
  if (m.element() != v1::ELEMENT_FLOAT32 && m.element() != v1::ELEMENT_FIELD_P61) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": unknown element type ", m.element()));
  }
  if (m.rows() < 1 || m.cols() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": shape ", m.rows(), "x", m.cols(), " (rows and columns must be >= 1)"));
  }
  if (m.rows() > max_elements / m.cols()) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": ", m.rows(), "x", m.cols(), " exceeds the limit of ",
                                                     max_elements, " elements"));
  }
  const int64_t n = m.rows() * m.cols();
  if (static_cast<int64_t>(m.data().size()) != n * ElementBytes(m)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", m.data().size(), " data bytes for a ", m.rows(), "x",
                                                   m.cols(), m.element() == v1::ELEMENT_FIELD_P61 ? " field" : " float32",
                                                   " matrix (expected ", n * ElementBytes(m), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckFinite(Eigen::Map<const Matrix> v, absl::string_view what) {
  const int64_t i = FirstNonFinite(v);
  if (i < 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": non-finite value at row ", i / v.cols(), ", column ", i % v.cols()));
}

}  // namespace

absl::StatusOr<Matrix> MatrixFromProto(const v1::MatrixProto& m, absl::string_view what, int64_t max_elements) {
  if (absl::Status s = CheckShape(m, what, max_elements); !s.ok()) return s;
  if (m.element() != v1::ELEMENT_FLOAT32) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": field elements where float32 values are expected"));
  }
  Matrix out(m.rows(), m.cols());
  std::memcpy(out.data(), m.data().data(), static_cast<size_t>(out.size()) * 4);
  if (absl::Status s = CheckFinite(Eigen::Map<const Matrix>(out.data(), out.rows(), out.cols()), what); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<FieldMatrix> FieldMatrixFromProto(const v1::MatrixProto& m, absl::string_view what,
                                                 int64_t max_elements) {
  if (absl::Status s = CheckShape(m, what, max_elements); !s.ok()) return s;
  if (m.element() != v1::ELEMENT_FIELD_P61) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": float32 values where field elements are expected"));
  }
  FieldMatrix out(m.rows(), m.cols());
  std::memcpy(out.data(), m.data().data(), static_cast<size_t>(out.size()) * 8);
  for (int64_t i = 0; i < out.size(); ++i) {
    if (out.data()[i] >= kFieldPrime) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": element at row ", i / out.cols(), ", column ",
                                                     i % out.cols(), " is not in [0, 2^61 - 1)"));
    }
  }
  return out;
}

absl::StatusOr<WireMatrix> TakeMatrixFromProto(v1::MatrixProto* m, absl::string_view what, bool check_finite,
                                               int64_t max_elements) {
  if (absl::Status s = CheckShape(*m, what, max_elements); !s.ok()) return s;
  WireMatrix out;
  out.rows_ = m->rows();
  out.cols_ = m->cols();
  out.bytes_.swap(*m->mutable_data());
  out.capacity_rows_ = out.rows_;
  out.field_ = m->element() == v1::ELEMENT_FIELD_P61;
  m->Clear();
  if (check_finite && !out.field_) {
    if (absl::Status s = CheckFinite(out.view(), what); !s.ok()) return s;
  }
  return out;
}

absl::Status WireMatrix::Reserve(int64_t total_rows, absl::string_view what, int64_t max_elements) {
  if (total_rows < rows_) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": a block of ", total_rows, " rows cannot start with ", rows_, " rows"));
  }
  if (total_rows > max_elements / cols_) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": ", total_rows, "x", cols_, " exceeds the limit of ",
                                                     max_elements, " elements"));
  }
  bytes_.reserve(static_cast<size_t>(total_rows * cols_) * (field_ ? 8 : 4));
  capacity_rows_ = total_rows;
  return absl::OkStatus();
}

absl::Status WireMatrix::Append(v1::MatrixProto* piece, absl::string_view what, bool check_finite) {
  if (absl::Status s = CheckShape(*piece, what, kMaxWireElements); !s.ok()) return s;
  if (piece->cols() != cols_) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": a piece of ", piece->cols(), " columns for a block of ", cols_));
  }
  if ((piece->element() == v1::ELEMENT_FIELD_P61) != field_) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": a piece's element type differs from its block's"));
  }
  if (piece->rows() > capacity_rows_ - rows_) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", piece->rows(), " more rows overflow a block of ",
                                                   capacity_rows_, " rows that has ", rows_));
  }
  if (check_finite && !field_) {
    const Eigen::Map<const Matrix> v(reinterpret_cast<const float*>(piece->data().data()), piece->rows(), cols_);
    if (absl::Status s = CheckFinite(v, what); !s.ok()) return s;
  }
  bytes_.append(piece->data());
  rows_ += piece->rows();
  piece->Clear();
  return absl::OkStatus();
}

void RowOpToProto(const RowOp& op, v1::RowOp* out) {
  out->Clear();
  if (op.plain()) return;
  out->set_kind(op.kind == RowOp::Kind::kIm2colProduct   ? v1::RowOp::IM2COL_PRODUCT
                : op.kind == RowOp::Kind::kProductCol2im ? v1::RowOp::PRODUCT_COL2IM
                                                         : v1::RowOp::IM2COL_T_PRODUCT);
  if (op.kind == RowOp::Kind::kIm2colTransposedProduct) out->set_images(op.conv.n);
  out->set_height(op.conv.h);
  out->set_width(op.conv.w);
  out->set_channels(op.conv.c);
  out->set_kernel_h(op.conv.kh);
  out->set_kernel_w(op.conv.kw);
  out->set_stride(op.conv.stride);
  out->set_pad(op.conv.pad);
}

absl::StatusOr<RowOp> RowOpFromProto(const v1::RowOp& m) {
  RowOp op;
  switch (m.kind()) {
    case v1::RowOp::PRODUCT:
      return op;
    case v1::RowOp::IM2COL_PRODUCT:
      op.kind = RowOp::Kind::kIm2colProduct;
      break;
    case v1::RowOp::PRODUCT_COL2IM:
      op.kind = RowOp::Kind::kProductCol2im;
      break;
    case v1::RowOp::IM2COL_T_PRODUCT:
      op.kind = RowOp::Kind::kIm2colTransposedProduct;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown row operation kind ", static_cast<int>(m.kind())));
  }
  const int64_t images = op.kind == RowOp::Kind::kIm2colTransposedProduct ? m.images() : 1;
  op.conv = ConvGeometry{images, m.height(), m.width(), m.channels(), m.kernel_h(), m.kernel_w(), m.stride(), m.pad()};
  if (absl::Status s = CheckConvGeometry(op); !s.ok()) return s;
  return op;
}

void MatrixToProto(ConstMatrixRef m, v1::MatrixProto* out) {
  out->set_rows(m.rows());
  out->set_cols(m.cols());
  std::string* data = out->mutable_data();
  const size_t row_bytes = static_cast<size_t>(m.cols()) * 4;
  // assign/append copy once (resize would zero-fill first: a second pass).
  if (m.outerStride() == m.cols()) {
    data->assign(reinterpret_cast<const char*>(m.data()), row_bytes * static_cast<size_t>(m.rows()));
    return;
  }
  data->clear();
  data->reserve(row_bytes * static_cast<size_t>(m.rows()));
  for (int64_t r = 0; r < m.rows(); ++r) data->append(reinterpret_cast<const char*>(m.row(r).data()), row_bytes);
}

void FieldMatrixToProto(ConstFieldMatrixRef m, v1::MatrixProto* out) {
  out->set_rows(m.rows());
  out->set_cols(m.cols());
  out->set_element(v1::ELEMENT_FIELD_P61);
  std::string* data = out->mutable_data();
  const size_t row_bytes = static_cast<size_t>(m.cols()) * 8;
  data->clear();
  data->reserve(row_bytes * static_cast<size_t>(m.rows()));
  for (int64_t r = 0; r < m.rows(); ++r) data->append(reinterpret_cast<const char*>(m.row(r).data()), row_bytes);
}

namespace {

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, ++n;
  return n;
}

// Tag of field 3 with the length-delimited wire type: ServerMessage.task,
// Task.coded_rows and MatrixProto.data are all field 3.
constexpr char kField3Bytes = (3 << 3) | 2;

}  // namespace

BlockMessageFrame TaskBlockFrame(bool piece, uint64_t job_id, int64_t task_id, int64_t rows, int64_t cols,
                                 int64_t total_rows, bool field) {
  // Hand-encoded (this runs once per task: dispatch rate matters), checked
  // byte for byte against protobuf's own serialisation in the tests. Proto3
  // leaves zero scalars out; negative int64s are 10-byte varints.
  auto varint_field = [](int field, int64_t v, std::string* out) {
    if (v == 0) return;
    out->push_back(static_cast<char>(field << 3));
    AppendVarint(static_cast<uint64_t>(v), out);
  };
  std::string shape, ids;
  varint_field(1, rows, &shape);
  varint_field(2, cols, &shape);
  varint_field(1, static_cast<int64_t>(job_id), &ids);
  varint_field(2, task_id, &ids);
  BlockMessageFrame f;
  // MatrixProto.element follows its data; Task.total_rows follows coded_rows.
  varint_field(4, field ? v1::ELEMENT_FIELD_P61 : 0, &f.trailer);
  const size_t element_len = f.trailer.size();
  if (!piece) varint_field(4, total_rows, &f.trailer);
  const uint64_t data_len = static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols) * (field ? 8 : 4);
  const uint64_t matrix_len = shape.size() + 1 + VarintSize(data_len) + data_len + element_len;
  const uint64_t task_len = ids.size() + 1 + VarintSize(matrix_len) + matrix_len + (f.trailer.size() - element_len);
  f.header.reserve(48);
  // ServerMessage.task is field 3, ServerMessage.task_piece field 6.
  f.header.push_back(piece ? static_cast<char>((6 << 3) | 2) : kField3Bytes);
  AppendVarint(task_len, &f.header);
  f.header += ids;
  f.header.push_back(kField3Bytes);  // coded_rows
  AppendVarint(matrix_len, &f.header);
  f.header += shape;
  f.header.push_back(kField3Bytes);  // MatrixProto.data
  AppendVarint(data_len, &f.header);
  return f;
}

}  // namespace codedge
