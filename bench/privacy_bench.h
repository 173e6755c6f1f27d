// `edge-bench privacy`: what the workers see of A under each strategy
// (issue 6). For a matrix of `rows` rows cut as each strategy cuts it, and
// its tasks dealt round robin to `workers` workers (fixed-rate codes: every
// task; LT: enough tasks for 110 % of k symbols):
//   - the tasks that carry raw rows of A (uncoded and replicated blocks,
//     systematic MDS rows, LT degree-1 symbols) and how many rows of A travel
//     raw to some worker;
//   - what c colluding workers (the first c) can reconstruct exactly: the
//     rows of A in the row space of their tasks' coefficients (exact linear
//     algebra for k <= 256 source symbols; for LT, peeling: a lower bound),
//     and the dimension of A they learn (rank of those coefficients, of k).
// None of the plain codes is private: a coded row is a linear combination
// of rows of A, which leaks that combination. See README, "Security".
#ifndef CODEDGE_BENCH_PRIVACY_BENCH_H_
#define CODEDGE_BENCH_PRIVACY_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace codedge::bench {

struct PrivacyOptions {
  int64_t rows = 10000;
  int workers = 10;
  std::vector<std::string> strategies = {"uncoded:k=10", "replication:k=10,copies=2", "mds:m=15,n=10",
                                         "mds:m=15,n=10,generator=systematic", "lt"};
};

struct PrivacyRow {
  std::string strategy;
  int64_t k = 0;                 // source symbols
  bool exact = true;             // false: LT peeling lower bound
  int64_t tasks = 0, tasks_with_raw_rows = 0;
  int64_t raw_rows = 0;          // rows of A sent raw to some worker
  std::vector<int> coalition;    // sizes c
  std::vector<int64_t> rows_reconstructed;  // per c
  std::vector<int64_t> rank;                // per c (exact only; -1 otherwise)
};

absl::StatusOr<std::vector<PrivacyRow>> RunPrivacyBench(const PrivacyOptions& o);

// `edge-bench private`: the T-private code (codes/private_code.h) against
// MDS on the same product, every stage timed on this machine, one thread:
// server encode, one worker's task, server decode from the fastest
// recovery-threshold results, and the decoded product's relative error.
struct PrivateCostOptions {
  int64_t rows = 10000, inner = 1000, cols = 10;
  int64_t k = 10, t = 2, n = 15;
  int bits = 16;
  int repeats = 3;
  uint64_t seed = 1;
  bool cluster = true;  // also end to end: Multiply on an in-process server with n workers
};
struct StageCost {
  std::string name;
  double encode_s = 0, task_s = 0, decode_s = 0, rel_error = 0;
  double cluster_s = 0, cluster_rel_error = 0;  // end to end (PrivateCostOptions::cluster)
  int64_t threshold = 0, tasks = 0;
};
absl::StatusOr<std::vector<StageCost>> RunPrivateCostBench(const PrivateCostOptions& o);
void PrintPrivateCostTable(const std::vector<StageCost>& rows, const PrivateCostOptions& o, std::ostream& out);
void PrintPrivacyTable(const std::vector<PrivacyRow>& rows, const PrivacyOptions& o, std::ostream& out);
std::string PrivacyJson(const std::vector<PrivacyRow>& rows, const PrivacyOptions& o);

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_PRIVACY_BENCH_H_
