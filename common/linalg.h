// Process-wide settings of the dense linear algebra backend (Eigen, and
// OpenBLAS underneath when built with CODEDGE_USE_BLAS).
#ifndef CODEDGE_COMMON_LINALG_H_
#define CODEDGE_COMMON_LINALG_H_

#include <string>

namespace codedge {

// Sets how many threads one matrix product may use (Eigen and OpenBLAS).
// n <= 0 means "all cores". Not thread-safe with concurrent products; call it
// at start-up.
void SetComputeThreads(int n);

// "eigen" or "eigen+openblas": which GEMM the build uses, for reports.
std::string LinalgBackend();

}  // namespace codedge

#endif  // CODEDGE_COMMON_LINALG_H_
