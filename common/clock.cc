#include "common/clock.h"

namespace codedge {
namespace {

class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  bool WaitUntil(absl::Time deadline, absl::Notification* cancel) override {
    if (cancel == nullptr) {
      absl::SleepFor(deadline - absl::Now());
      return false;
    }
    return cancel->WaitForNotificationWithDeadline(deadline);
  }
};

}  // namespace

Clock* Clock::Real() {
  static Clock* const clock = new RealClock();
  return clock;
}

absl::Time FakeClock::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

bool FakeClock::WaitUntil(absl::Time deadline, absl::Notification* cancel) {
  absl::MutexLock lock(&mu_);
  auto reached = [this, deadline]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return now_ >= deadline; };
  // Woken by Advance; the bounded wait also re-checks `cancel`, because an
  // absl::Notification cannot signal our Mutex condition by itself.
  for (;;) {
    if (cancel != nullptr && cancel->HasBeenNotified()) return true;
    if (reached()) return false;
    mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Milliseconds(1));
  }
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

}  // namespace codedge
