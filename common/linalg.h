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

// OpenBLAS sizes its thread pool from OPENBLAS_NUM_THREADS when the library
// loads, before main(); idle pool threads then spin (sched_yield) and starve
// the network threads on small machines (measured: cancel delivery p99 4.6 ms
// with a 2-thread pool asked to use 1 thread, 0.5 ms with a 1-thread pool;
// BENCHMARKS.md). A process that wants `n` BLAS threads (n <= 0: all cores)
// calls this right after parsing its flags: if the variable is unset it sets
// it and re-executes itself once (argv unchanged); otherwise it returns.
// It also picks OpenBLAS's kernels when OpenBLAS itself fell back to its
// SSE3 ones on a CPU it does not know (Debian 12's OpenBLAS on this
// machine's virtual Xeon: "Prescott", 3-11x slower GEMMs than its
// AVX-512 "SkylakeX" kernels; BENCHMARKS.md): OPENBLAS_CORETYPE is set from
// the CPU's features, unless the user set it. No-op without OpenBLAS.
void EnsureBlasEnvironment(int n, char** argv);

// The OpenBLAS core to ask for when OpenBLAS detected `detected`: empty when
// its choice stands (a known CPU, or no better kernels for this CPU).
std::string BlasCoreFor(const std::string& detected);

// "eigen" or "eigen+openblas": which GEMM the build uses, for reports.
std::string LinalgBackend();

}  // namespace codedge

#endif  // CODEDGE_COMMON_LINALG_H_
