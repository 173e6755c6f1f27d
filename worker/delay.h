// Straggler injection: a per-task delay drawn from a distribution, seeded
// (DESIGN.md, "Stragglers and heterogeneity"). Samples come from our Pcg32, so
// a seed gives the same delays on every machine.
#ifndef CODEDGE_WORKER_DELAY_H_
#define CODEDGE_WORKER_DELAY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/random.h"

namespace codedge {

struct DelaySpec {
  enum class Kind { kNone, kConst, kUniform, kNormal, kExp, kShiftedExp };
  Kind kind = Kind::kNone;
  double a = 0, b = 0;  // seconds: const T | uniform LO,HI | normal MEAN,SD | exp MEAN | shifted-exp SHIFT,MEAN
};

// Parses "none", "const:T", "uniform:LO,HI", "normal:MEAN,SD", "exp:MEAN",
// "shifted-exp:SHIFT,MEAN" (seconds, >= 0; LO <= HI). InvalidArgument with the
// accepted forms otherwise.
absl::StatusOr<DelaySpec> ParseDelaySpec(absl::string_view text);
std::string DelaySpecString(const DelaySpec& spec);

// Not thread-safe (one per worker).
class DelaySampler {
 public:
  DelaySampler(DelaySpec spec, uint64_t seed) : spec_(spec), rng_(seed, 0x64656c6179) {}  // "delay"
  // The next task's delay; never negative (a normal sample below 0 is 0).
  absl::Duration Next();
  const DelaySpec& spec() const { return spec_; }

 private:
  DelaySpec spec_;
  Pcg32 rng_;
};

}  // namespace codedge

#endif  // CODEDGE_WORKER_DELAY_H_
