#include "common/linalg.h"

#include <cstdlib>
#include <string>
#include <thread>

#include <unistd.h>

#include <Eigen/Core>

#ifdef CODEDGE_USE_BLAS
extern "C" void openblas_set_num_threads(int num_threads);
#endif

namespace codedge {

void SetComputeThreads(int n) {
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  Eigen::setNbThreads(n);
#ifdef CODEDGE_USE_BLAS
  openblas_set_num_threads(n);
#endif
}

void EnsureBlasPoolSize(int n, char** argv) {
#ifdef CODEDGE_USE_BLAS
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return;
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  const std::string value = std::to_string(n);
  if (setenv("OPENBLAS_NUM_THREADS", value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: carry on as we are
#else
  (void)n;
  (void)argv;
#endif
}

std::string LinalgBackend() {
#ifdef CODEDGE_USE_BLAS
  return "eigen+openblas";
#else
  return "eigen";
#endif
}

}  // namespace codedge
