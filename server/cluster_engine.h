// The CNN's products on the edge cluster: a cnn::MatmulEngine that submits
// each product to the server's own TaskPool (no loopback RPC) under the
// strategy chosen for its kind, and waits for the decoded result. Products
// smaller than `min_remote_macs` multiply-adds run locally: shipping a
// 50x128 . 128x10 product costs more than computing it.
#ifndef CODEDGE_SERVER_CLUSTER_ENGINE_H_
#define CODEDGE_SERVER_CLUSTER_ENGINE_H_

#include <cstdint>

#include "absl/time/time.h"
#include "cnn/engine.h"
#include "codes/factory.h"
#include "server/task_pool.h"

namespace codedge {

struct ClusterEngineOptions {
  CodeSpec forward, backward_data, backward_weights;
  int64_t min_remote_macs = int64_t{1} << 20;
  absl::Duration timeout = absl::Minutes(5);  // per product
};

class ClusterEngine final : public cnn::MatmulEngine {
 public:
  ClusterEngine(TaskPool* pool, ClusterEngineOptions options) : pool_(pool), options_(options) {}
  absl::StatusOr<Matrix> Multiply(ConstMatrixRef a, ConstMatrixRef b, cnn::ProductKind kind) override;

  int64_t remote_products() const { return remote_; }
  int64_t local_products() const { return local_; }
  // The remote products' job statistics, summed (encode, queue, decode,
  // submit-to-done times; tasks): where a product's time went. Like the
  // counters above, kept unlocked: one training thread calls Multiply.
  const JobStats& remote_stats() const { return stats_; }

 private:
  TaskPool* const pool_;
  const ClusterEngineOptions options_;
  cnn::LocalEngine local_engine_;
  int64_t remote_ = 0, local_ = 0;
  JobStats stats_;
};

}  // namespace codedge

#endif  // CODEDGE_SERVER_CLUSTER_ENGINE_H_
