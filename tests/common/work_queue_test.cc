#include <catch2/catch.hpp>

#include <atomic>
#include <memory>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/work_queue.h"

namespace codedge {
namespace {

TEST_CASE("WorkQueue runs everything posted, in order on one thread, and drains at destruction", "[work_queue]") {
  std::vector<int> order;
  {
    WorkQueue q(1);
    for (int i = 0; i < 1000; ++i) q.Post([&order, i] { order.push_back(i); });
  }  // the destructor runs what is still queued
  REQUIRE(order.size() == 1000);
  for (int i = 0; i < 1000; ++i) CHECK(order[i] == i);
}

TEST_CASE("WorkQueue runs work posted by work while it drains", "[work_queue]") {
  std::atomic<int> done{0};
  {
    auto q = std::make_unique<WorkQueue>(2);
    WorkQueue* raw = q.get();
    // Each item posts the next: a chain of 50, started just before the
    // queue is destroyed.
    std::function<void(int)> step = [&](int left) {
      done++;
      if (left > 0) raw->Post([&step, left] { step(left - 1); });
    };
    raw->Post([&step] { step(49); });
    q.reset();
  }
  CHECK(done == 50);
}

TEST_CASE("WorkQueue threads run at the same time", "[work_queue]") {
  // Two items that each wait for the other finish only if two threads run
  // them concurrently (bounded waits: a failure cannot hang the test).
  absl::Notification a, b;
  std::atomic<bool> a_saw_b{false}, b_saw_a{false};
  {
    WorkQueue q(2);
    q.Post([&] {
      a.Notify();
      a_saw_b = b.WaitForNotificationWithTimeout(absl::Seconds(10));
    });
    q.Post([&] {
      b.Notify();
      b_saw_a = a.WaitForNotificationWithTimeout(absl::Seconds(10));
    });
  }
  CHECK(a_saw_b);
  CHECK(b_saw_a);
}

}  // namespace
}  // namespace codedge
