// Injected time (leveldb Env style): production code asks a Clock, tests use
// FakeClock and advance it by hand, so nothing in a test waits on real time.
#ifndef CODEDGE_COMMON_CLOCK_H_
#define CODEDGE_COMMON_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace codedge {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Waits until `deadline` or until `cancel` is notified, whichever is first;
  // returns true if cancelled. `cancel` may be null. This is the only way
  // codedge waits on time (injected delays must be interruptible).
  virtual bool WaitUntil(absl::Time deadline, absl::Notification* cancel) = 0;

  // The process-wide real clock (never destroyed).
  static Clock* Real();
};

// A clock that moves only when told to. WaitUntil blocks until the fake time
// reaches the deadline (another thread calls Advance) or until cancelled.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}
  absl::Time Now() override;
  bool WaitUntil(absl::Time deadline, absl::Notification* cancel) override;
  void Advance(absl::Duration d);

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace codedge

#endif  // CODEDGE_COMMON_CLOCK_H_
