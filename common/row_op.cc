#include "common/row_op.h"

#include "absl/strings/str_cat.h"

namespace codedge {

int64_t RowOp::InCols(int64_t b_rows) const {
  switch (kind) {
    case Kind::kProduct:
      return b_rows;
    case Kind::kIm2colProduct:
      return conv.h * conv.w * conv.c;
    case Kind::kProductCol2im:
      return conv.out_h() * conv.out_w() * b_rows;
    case Kind::kIm2colTransposedProduct:
      return conv.n * conv.h * conv.w;
  }
  return 0;
}

int64_t RowOp::OutCols(int64_t b_cols) const {
  switch (kind) {
    case Kind::kProduct:
      return b_cols;
    case Kind::kIm2colProduct:
      return conv.out_h() * conv.out_w() * b_cols;
    case Kind::kProductCol2im:
      return conv.h * conv.w * conv.c;
    case Kind::kIm2colTransposedProduct:
      return conv.kh * conv.kw * b_cols;
  }
  return 0;
}

int64_t RowOp::MacsPerRow(int64_t a_cols, int64_t b_cols) const {
  // A gradient row (OH*OW*F values) times B (F x patch) is a_cols * patch;
  // an image's im2col rows (OH*OW x patch) times B (patch x F) more than its
  // a_cols * F, and so are a channel's (n*OH*OW x KH*KW, transposed).
  switch (kind) {
    case Kind::kIm2colProduct:
      return conv.out_h() * conv.out_w() * conv.patch() * b_cols;
    case Kind::kIm2colTransposedProduct:
      return conv.n * conv.out_h() * conv.out_w() * conv.kh * conv.kw * b_cols;
    default:
      return a_cols * b_cols;
  }
}

int64_t RowOp::ScratchPerRow() const {
  switch (kind) {
    case Kind::kProduct:
      return 0;
    case Kind::kIm2colProduct:
    case Kind::kProductCol2im:
      return conv.out_h() * conv.out_w() * conv.patch();
    case Kind::kIm2colTransposedProduct:
      return conv.kh * conv.kw * conv.n * conv.out_h() * conv.out_w();
  }
  return 0;
}

int64_t RowOp::MinChunkRows() const {
  // At least 32 rows of the stacked product (4 channels of a 3x3 kernel):
  // per channel, 4 took 0.25 ms and 16 0.26 ms for 50 28x28 images and 16
  // filters, 1 took 0.42 ms (single thread, this machine).
  if (kind != Kind::kIm2colTransposedProduct) return 1;
  const int64_t offsets = std::max<int64_t>(1, conv.kh * conv.kw);
  return (32 + offsets - 1) / offsets;
}

std::string RowOp::ToString() const {
  const std::string kernel =
      absl::StrCat(conv.kh, "x", conv.kw, " kernel, stride ", conv.stride, ", pad ", conv.pad);
  switch (kind) {
    case Kind::kProduct:
      return "product";
    case Kind::kIm2colProduct:
      return absl::StrCat("im2col.product of ", conv.h, "x", conv.w, "x", conv.c, " images, ", kernel);
    case Kind::kProductCol2im:
      return absl::StrCat("product.col2im of ", conv.h, "x", conv.w, "x", conv.c, " images, ", kernel);
    case Kind::kIm2colTransposedProduct:
      return absl::StrCat("im2col^T.product of channels of ", conv.n, " ", conv.h, "x", conv.w, " images, ", kernel);
  }
  return "?";
}

absl::Status CheckConvGeometry(const RowOp& op) {
  if (op.plain()) return absl::OkStatus();
  const ConvGeometry& g = op.conv;
  const bool transposed = op.kind == RowOp::Kind::kIm2colTransposedProduct;
  if (transposed && (g.c != 1 || g.n < 1 || g.n > kMaxConvSide)) {
    return absl::InvalidArgumentError(absl::StrCat("bad convolution geometry (", op.ToString(),
                                                   "): a channel row needs 1 channel and 1 to ", kMaxConvSide,
                                                   " images"));
  }
  for (int64_t v : {g.h, g.w, g.c, g.kh, g.kw, g.stride}) {
    if (v < 1 || v > kMaxConvSide) {
      return absl::InvalidArgumentError(absl::StrCat("bad convolution geometry (", op.ToString(),
                                                     "): every size must be in [1, ", kMaxConvSide, "]"));
    }
  }
  if (g.pad < 0 || g.pad >= g.kh || g.pad >= g.kw || g.kh > g.h + 2 * g.pad || g.kw > g.w + 2 * g.pad) {
    return absl::InvalidArgumentError(absl::StrCat("bad convolution geometry (", op.ToString(),
                                                   "): the padding must be in [0, kernel) and the kernel fit the "
                                                   "padded image"));
  }
  // In double: with sides up to 2^16 the products overflow int64.
  const double images = transposed ? static_cast<double>(g.n) : 1.0;
  const double in_values = images * static_cast<double>(g.h) * static_cast<double>(g.w) * static_cast<double>(g.c);
  const double expanded = images * static_cast<double>(g.out_h()) * static_cast<double>(g.out_w()) *
                          static_cast<double>(g.kh) * static_cast<double>(g.kw) * static_cast<double>(g.c);
  if (in_values > kMaxRowOpValues || expanded > kMaxRowOpValues) {
    return absl::InvalidArgumentError(absl::StrCat("convolution too large (", op.ToString(),
                                                   "): an image or its im2col rows over ", kMaxRowOpValues,
                                                   " values"));
  }
  return absl::OkStatus();
}

absl::Status CheckRowOp(const RowOp& op, int64_t a_cols, int64_t b_rows, int64_t b_cols) {
  if (op.plain()) {
    if (a_cols != b_rows) {
      return absl::InvalidArgumentError(absl::StrCat("rows of ", a_cols, " values do not chain with a ", b_rows,
                                                     "x", b_cols, " B"));
    }
    return absl::OkStatus();
  }
  if (absl::Status s = CheckConvGeometry(op); !s.ok()) return s;
  const ConvGeometry& g = op.conv;
  // B's fixed side: the filters' rows (forward), the filters' columns
  // (input gradient), or the output gradient's rows (weight gradient).
  const bool b_rows_fixed = op.kind != RowOp::Kind::kProductCol2im;
  const int64_t fixed =
      op.kind == RowOp::Kind::kIm2colTransposedProduct ? g.n * g.out_h() * g.out_w() : g.patch();
  if ((b_rows_fixed ? b_rows : b_cols) != fixed || b_rows < 1 || b_cols < 1) {
    return absl::InvalidArgumentError(absl::StrCat("B is ", b_rows, "x", b_cols, " but ", op.ToString(), " needs ",
                                                   fixed, b_rows_fixed ? " rows" : " columns"));
  }
  if (a_cols != op.InCols(b_rows)) {
    return absl::InvalidArgumentError(absl::StrCat("rows of ", a_cols, " values, but ", op.ToString(), " with a ",
                                                   b_rows, "x", b_cols, " B takes rows of ", op.InCols(b_rows)));
  }
  // The result row: B's free side times a fixed count of at most 2^32
  // (pixels or kernel offsets), in double for the same reason. (An input
  // gradient's result row is an image, bounded by CheckConvGeometry.)
  if (op.kind != RowOp::Kind::kProductCol2im) {
    const double fixed_count = op.kind == RowOp::Kind::kIm2colProduct
                                   ? static_cast<double>(g.out_h()) * static_cast<double>(g.out_w())
                                   : static_cast<double>(g.kh) * static_cast<double>(g.kw);
    if (fixed_count * static_cast<double>(b_cols) > kMaxRowOpValues) {
      return absl::InvalidArgumentError(absl::StrCat("convolution too large (", op.ToString(), ", B ", b_rows, "x",
                                                     b_cols, "): a result row over ", kMaxRowOpValues, " values"));
    }
  }
  // The work of a row, bounded from the double-checked sizes above.
  const double macs = op.kind == RowOp::Kind::kProductCol2im
                          ? static_cast<double>(a_cols) * static_cast<double>(b_cols)
                          : static_cast<double>(op.MacsPerRow(a_cols, b_cols));
  if (macs > kMaxRowOpMacs) {
    return absl::InvalidArgumentError(absl::StrCat("convolution too large (", op.ToString(), ", B ", b_rows, "x",
                                                   b_cols, "): a row of ", macs, " multiply-adds, over ",
                                                   kMaxRowOpMacs));
  }
  return absl::OkStatus();
}

void ApplyRowOp(const RowOp& op, ConstMatrixRef rows, ConstMatrixRef b, Eigen::Map<Matrix> out, Matrix& scratch) {
  if (op.plain()) {
    out.noalias() = rows * b;
    return;
  }
  const int64_t n = rows.rows();
  if (n == 0) return;
  // A block of whole rows, row-major and contiguous, read as pixel rows.
  Matrix copy;
  const float* data = rows.data();
  if (rows.outerStride() != rows.cols()) {
    copy = rows;
    data = copy.data();
  }
  ConvGeometry g = op.conv;
  if (op.kind == RowOp::Kind::kIm2colTransposedProduct) {
    // Each row (one channel of the batch) expanded into its KH*KW shifted
    // rows, stacked, then one product with dz for the whole block: dz is
    // read once per block, not once per channel (0.26 ms per channel for 16
    // channels of 50 28x28 images and 16 filters, 0.42 ms one at a time).
    // Row r's KH*KW x cols result is rows r*KH*KW.. of that product, which
    // is exactly out's layout.
    const int64_t in_cols = g.n * g.h * g.w, offsets = g.kh * g.kw;
    scratch.resize(n * offsets, g.n * g.out_h() * g.out_w());
    for (int64_t r = 0; r < n; ++r) ChannelShiftsInto(data + r * in_cols, g, scratch.middleRows(r * offsets, offsets));
    Eigen::Map<Matrix>(out.data(), n * offsets, b.cols()).noalias() = scratch * b;
    return;
  }
  g.n = n;
  const int64_t out_pixels = n * g.out_h() * g.out_w();
  if (op.kind == RowOp::Kind::kIm2colProduct) {
    const Eigen::Map<const Matrix> pixels(data, n * g.h * g.w, g.c);
    scratch.resize(out_pixels, g.patch());
    Im2ColInto(pixels, g, scratch);
    Eigen::Map<Matrix>(out.data(), out_pixels, b.cols()).noalias() = scratch * b;
  } else {
    const Eigen::Map<const Matrix> grads(data, out_pixels, b.rows());
    scratch.resize(out_pixels, g.patch());
    scratch.noalias() = grads * b;
    Eigen::Map<Matrix> dx(out.data(), n * g.h * g.w, g.c);
    Col2ImInto(scratch, g, dx);
  }
}

}  // namespace codedge
