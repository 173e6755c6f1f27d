#include "common/process.h"

#include <malloc.h>

#include "absl/synchronization/mutex.h"

namespace codedge {

void TuneProcess() {
#if defined(__GLIBC__)
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, 512 << 20);  // also turns off the dynamic threshold
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace codedge
