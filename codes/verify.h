// Freivalds' check of a worker's result (issue 6): is `result` = rows . B?
//
// For a random vector v, rows . (B . v) and result . v agree (up to float
// rounding) when the result is right; a wrong entry (i, j) shifts row i of
// the difference by its error times v_j, and v_j is drawn away from zero
// (|v_j| in [0.5, 1.5], random sign), so every error above the rounding
// tolerance is caught, whatever the worker did. Cost: two matrix-vector
// passes over the task's rows (the check and its rounding scale) plus
// K x N + rows x N; memory-bound, so about half the time of a 10-column
// product on this machine (BENCHMARKS.md), less for wider B.
#ifndef CODEDGE_CODES_VERIFY_H_
#define CODEDGE_CODES_VERIFY_H_

#include "absl/status/status.h"
#include "common/field.h"
#include "common/matrix.h"
#include "common/random.h"
#include "common/row_op.h"

namespace codedge {

// OK, or DataLoss naming the first row whose check fails (InvalidArgument
// for shapes that do not chain). Row i fails when
//   |(result . v)_i - (rows . (B . v))_i| > tolerance * sum_l |rows_il| (|B| |v|)_l
// (computed in double); 1e-3 leaves float32 products of any depth well
// inside while catching every change of an entry by more than ~0.1 % of
// that row's scale.
absl::Status FreivaldsCheck(ConstMatrixRef rows, ConstMatrixRef b, ConstMatrixRef result, Pcg32& rng,
                            double tolerance = 1e-3);

// The same for result = op(rows, B) (common/row_op.h). For the convolution
// kinds each result row is checked pixel by pixel (kernel offset by offset
// for the weight gradient): v runs over the result's channels, and the
// expected side is op applied to the rows with B folded by v (a 1-filter
// convolution, or col2im of a 1-channel one), so the check costs about one
// channel's worth of the task's compute. InvalidArgument if the shapes
// do not fit `op`.
absl::Status FreivaldsCheck(ConstMatrixRef rows, ConstMatrixRef b, ConstMatrixRef result, Pcg32& rng,
                            double tolerance, const RowOp& op);

// The same check for a T-private task, exact in F_p (common/field.h):
// result . v == rows . (b . v) mod p for v uniform in F_p^cols. A wrong
// result passes with probability at most 1/p (2^-61). DataLoss naming the
// first failing row; InvalidArgument for shapes that do not chain.
absl::Status FieldFreivaldsCheck(ConstFieldMatrixRef rows, const QuantMatrix& b, ConstFieldMatrixRef result,
                                 Pcg32& rng);

}  // namespace codedge

#endif  // CODEDGE_CODES_VERIFY_H_
