// Building a Code from a strategy description: the one place that maps
// strategy names and parameters (from flags, RPCs, benchmark scenarios) to
// code objects. No protobuf here: server/convert.h maps messages to CodeSpec.
#ifndef CODEDGE_CODES_FACTORY_H_
#define CODEDGE_CODES_FACTORY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "codes/code.h"
#include "codes/lt.h"
#include "codes/mds.h"
#include "codes/private_code.h"

namespace codedge {

// kSpeculative is the uncoded code scheduled with re-issue of stragglers'
// tasks (the baseline a practitioner would use; see server/task_pool.h).
// kPrivate is the T-private Lagrange code (codes/private_code.h): computed
// over a prime field, not a float Code; a server runs it as its own job kind
// (MakeCode refuses it).
enum class Strategy { kUncoded, kReplication, kMds, kLt, kSpeculative, kPrivate };

std::string StrategyName(Strategy s);
// "uncoded", "speculative", "replication", "mds", "lt", "private"; InvalidArgument
// listing them otherwise.
absl::StatusOr<Strategy> ParseStrategy(absl::string_view name);

struct CodeSpec {
  Strategy strategy = Strategy::kMds;
  int64_t k = 10;        // uncoded / speculative / replication: source blocks
  int64_t copies = 2;    // replication
  int64_t m = 15;        // mds: coded tasks
  int64_t n = 10;        // mds: source blocks (decodable from any n)
  MdsGenerator generator = kDefaultMdsGenerator;
  LtParams lt;           // lt (seed taken from `seed` below)
  PrivateParams priv;    // private: k blocks, t colluders, n tasks, fixed-point bits
  uint64_t seed = 1;     // every random choice of the code
};

// Parses "name[:key=value,...]", e.g. "mds:m=15,n=10,generator=rotation",
// "replication:k=10,copies=3", "lt:c=0.03,delta=0.05,symbol_rows=1",
// "uncoded:k=8", "private:k=10,t=2,n=15,bits=16". Unknown keys or bad values are InvalidArgument.
absl::StatusOr<CodeSpec> ParseCodeSpec(absl::string_view text);
// The same, with every parameter the text does not name taken from
// `defaults` (e.g. a user of LT that wants another symbol_rows unless told).
absl::StatusOr<CodeSpec> ParseCodeSpec(absl::string_view text, const CodeSpec& defaults);
std::string CodeSpecString(const CodeSpec& spec);

// The code for a product whose A has `rows` rows. InvalidArgument for bad
// parameters (the same checks as each code's Create) and for kPrivate, which
// is not a float code (PrivateCode::Create makes it).
absl::StatusOr<std::unique_ptr<Code>> MakeCode(const CodeSpec& spec, int64_t rows);
// OK if `spec`'s parameters make a code, T-private included, for an A of
// `rows` x `inner` (the parameter checks do not depend on the size): a bad
// strategy is refused before any worker is waited for or started.
// InvalidArgument otherwise.
absl::Status CheckCodeSpec(const CodeSpec& spec, int64_t rows = 1000, int64_t inner = 100);

}  // namespace codedge

#endif  // CODEDGE_CODES_FACTORY_H_
