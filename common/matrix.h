// Matrix aliases used across codedge.
//
// Data matrices are row-major float32: row blocks of A are contiguous, so a
// block is a cheap Eigen::Map and travels as one packed byte range. Coding
// coefficients and MDS decoding use double (MatrixD).
#ifndef CODEDGE_COMMON_MATRIX_H_
#define CODEDGE_COMMON_MATRIX_H_

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

}  // namespace codedge

#endif  // CODEDGE_COMMON_MATRIX_H_
