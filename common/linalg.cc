#include "common/linalg.h"

#include <thread>

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

std::string LinalgBackend() {
#ifdef CODEDGE_USE_BLAS
  return "eigen+openblas";
#else
  return "eigen";
#endif
}

}  // namespace codedge
