#include "common/linalg.h"

#include <cctype>
#include <cstdlib>
#include <string>
#include <thread>

#include <unistd.h>

#include <Eigen/Core>

#include "common/logging.h"

#ifdef CODEDGE_USE_BLAS
extern "C" void openblas_set_num_threads(int num_threads);
extern "C" char* openblas_get_corename(void);
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

std::string BlasCoreFor(const std::string& detected) {
#if defined(__x86_64__)
  // OpenBLAS falls back to its SSE3 kernels when it does not know the CPU
  // model (new CPUs, and hypervisors that report a generic "Intel Xeon
  // Processor"): the features decide instead.
  std::string lower = detected;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "prescott" && lower != "core2" && lower != "nehalem" && lower != "katmai" && lower != "unknown") {
    return "";
  }
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
#else
  (void)detected;
  return "";
#endif
}

void EnsureBlasEnvironment(int n, char** argv) {
#ifdef CODEDGE_USE_BLAS
  bool changed = false;
  if (std::getenv("OPENBLAS_NUM_THREADS") == nullptr) {
    if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
    if (n <= 0) n = 1;
    changed |= setenv("OPENBLAS_NUM_THREADS", std::to_string(n).c_str(), 1) == 0;
  }
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    const char* name = openblas_get_corename();
    const std::string core = BlasCoreFor(name != nullptr ? name : "unknown");
    if (!core.empty() && setenv("OPENBLAS_CORETYPE", core.c_str(), 1) == 0) {
      Log().debug("OpenBLAS picked its {} kernels for this CPU; using {} (the CPU's features): set OPENBLAS_CORETYPE "
                 "to choose yourself",
                 name != nullptr ? name : "unknown", core);
      changed = true;
    }
  }
  if (changed) execv("/proc/self/exe", argv);  // returns only on failure: carry on as we are
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
