// Matrix aliases used across codedge.
//
// Data matrices are row-major float32: row blocks of A are contiguous, so a
// block is a cheap Eigen::Map and travels as one packed byte range. Coding
// coefficients and MDS decoding use double (MatrixD).
#ifndef CODEDGE_COMMON_MATRIX_H_
#define CODEDGE_COMMON_MATRIX_H_

#include <cstdint>

#include <Eigen/Core>

namespace codedge {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VectorD = Eigen::VectorXd;

// Read-only and writable views over any row-major float matrix expression
// with unit inner stride (a block of rows, a Map over received bytes, ...).
using ConstMatrixRef = Eigen::Ref<const Matrix>;
using MatrixRef = Eigen::Ref<Matrix>;
using ConstMatrixDRef = Eigen::Ref<const MatrixD>;

// Elements of the prime field F_p, p = 2^61 - 1, in [0, p): the T-private
// code's blocks and results (codes/private_code.h). They travel as uint64.
inline constexpr uint64_t kFieldPrime = (uint64_t{1} << 61) - 1;
using FieldMatrix = Eigen::Matrix<uint64_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstFieldMatrixRef = Eigen::Ref<const FieldMatrix>;

}  // namespace codedge

#endif  // CODEDGE_COMMON_MATRIX_H_
