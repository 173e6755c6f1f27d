// A fixed set of threads running posted closures in order of posting (one
// at a time per thread). For work that must not run where it arises: a gRPC
// reaction must not block (DESIGN.md), so decoding a result, encoding a task
// or admitting a job is posted here instead.
#ifndef CODEDGE_COMMON_WORK_QUEUE_H_
#define CODEDGE_COMMON_WORK_QUEUE_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace codedge {

class WorkQueue {
 public:
  // `threads` >= 1.
  explicit WorkQueue(int threads);
  // Runs everything still queued (and whatever that posts), then joins.
  // Other threads must stop posting before destruction begins: a post after
  // the last thread has left would never run.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Post(std::function<void()> work);

 private:
  void Loop();
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace codedge

#endif  // CODEDGE_COMMON_WORK_QUEUE_H_
