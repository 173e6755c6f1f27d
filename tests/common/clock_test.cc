#include <catch2/catch.hpp>

#include <thread>

#include "absl/synchronization/notification.h"
#include "common/clock.h"

namespace codedge {
namespace {

TEST_CASE("FakeClock waits until advanced past the deadline", "[clock]") {
  FakeClock clock;
  const absl::Time deadline = clock.Now() + absl::Seconds(10);
  absl::Notification done;
  bool cancelled = true;
  std::thread waiter([&] {
    cancelled = clock.WaitUntil(deadline, nullptr);
    done.Notify();
  });
  clock.Advance(absl::Seconds(5));
  CHECK_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(20)));
  clock.Advance(absl::Seconds(5));
  done.WaitForNotification();
  waiter.join();
  CHECK_FALSE(cancelled);
  CHECK(clock.Now() == absl::UnixEpoch() + absl::Seconds(10));
}

TEST_CASE("FakeClock wait is interrupted by cancellation", "[clock]") {
  FakeClock clock;
  absl::Notification cancel;
  bool cancelled = false;
  std::thread waiter([&] { cancelled = clock.WaitUntil(clock.Now() + absl::Hours(1), &cancel); });
  cancel.Notify();
  waiter.join();
  CHECK(cancelled);
}

TEST_CASE("Real clock wait returns early on cancel", "[clock]") {
  absl::Notification cancel;
  cancel.Notify();
  const absl::Time start = absl::Now();
  CHECK(Clock::Real()->WaitUntil(start + absl::Seconds(30), &cancel));
  CHECK(absl::Now() - start < absl::Seconds(5));
}

}  // namespace
}  // namespace codedge
