#include "proto/wire.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace codedge {

// The wire format is little-endian float32; every platform we build for
// (x86-64, arm64) is little-endian, so bytes are copied as they are.
static_assert(std::endian::native == std::endian::little, "codedge's wire format assumes a little-endian host");

absl::StatusOr<Matrix> MatrixFromProto(const v1::MatrixProto& m, absl::string_view what, int64_t max_elements) {
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
  Matrix out(m.rows(), m.cols());
  std::memcpy(out.data(), m.data().data(), static_cast<size_t>(n) * 4);
  if (!out.allFinite()) {
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isfinite(out.data()[i])) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": non-finite value at row ", i / m.cols(), ", column ",
                                                       i % m.cols()));
      }
    }
  }
  return out;
}

void MatrixToProto(ConstMatrixRef m, v1::MatrixProto* out) {
  out->set_rows(m.rows());
  out->set_cols(m.cols());
  std::string* data = out->mutable_data();
  data->resize(static_cast<size_t>(m.rows() * m.cols()) * 4);
  char* dst = data->data();
  const size_t row_bytes = static_cast<size_t>(m.cols()) * 4;
  if (m.outerStride() == m.cols()) {
    std::memcpy(dst, m.data(), row_bytes * static_cast<size_t>(m.rows()));
    return;
  }
  for (int64_t r = 0; r < m.rows(); ++r) std::memcpy(dst + r * row_bytes, m.row(r).data(), row_bytes);
}

}  // namespace codedge
