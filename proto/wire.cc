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

absl::Status CheckShape(const v1::MatrixProto& m, absl::string_view what, int64_t max_elements) {
  if (m.rows() < 1 || m.cols() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": shape ", m.rows(), "x", m.cols(), " (rows and columns must be >= 1)"));
  }
  if (m.rows() > max_elements / m.cols()) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": ", m.rows(), "x", m.cols(), " exceeds the limit of ",
                                                     max_elements, " elements"));
  }
  const int64_t n = m.rows() * m.cols();
  if (static_cast<int64_t>(m.data().size()) != n * 4) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", m.data().size(), " data bytes for a ", m.rows(), "x",
                                                   m.cols(), " float32 matrix (expected ", n * 4, ")"));
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
  Matrix out(m.rows(), m.cols());
  std::memcpy(out.data(), m.data().data(), static_cast<size_t>(out.size()) * 4);
  if (absl::Status s = CheckFinite(Eigen::Map<const Matrix>(out.data(), out.rows(), out.cols()), what); !s.ok()) {
    return s;
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
  m->Clear();
  if (check_finite) {
    if (absl::Status s = CheckFinite(out.view(), what); !s.ok()) return s;
  }
  return out;
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

}  // namespace codedge
