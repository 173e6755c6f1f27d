#include "bench/scenario.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace codedge::bench {

absl::StatusOr<std::string> StrategySpec(const std::string& name, int workers, const std::string& lt_options) {
  if (name == "uncoded") return absl::StrCat("uncoded:k=", workers);
  if (name == "speculative") return absl::StrCat("speculative:k=", workers);
  if (name == "replication") return absl::StrCat("replication:k=", workers, ",copies=2");
  if (name == "mds") return absl::StrCat("mds:m=", workers + workers / 2, ",n=", workers);
  if (name == "mds-systematic") return absl::StrCat("mds:m=", workers + workers / 2, ",n=", workers, ",generator=systematic");
  if (name == "lt") return lt_options.empty() ? std::string("lt") : absl::StrCat("lt:", lt_options);
  if (name.rfind("lt:", 0) == 0) {  // "lt:KEY=VALUE,...": the bench's options first, so the name's win
    return lt_options.empty() ? name : absl::StrCat("lt:", lt_options, ",", name.substr(3));
  }
  if (name == "private") {
    // T = 2 colluders; as many tasks as MDS and the same straggler
    // tolerance: any `workers` of them decode (k = workers - 2 blocks).
    if (workers < 3) return absl::InvalidArgumentError("the private strategy needs at least 3 workers (T = 2)");
    return absl::StrCat("private:k=", workers - 2, ",t=2,n=", workers + workers / 2, ",bits=16");
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown strategy '", name, "' (use uncoded, speculative, replication, mds, mds-systematic, lt, lt:KEY=VALUE,..., private)"));
}

std::vector<std::string> SplitStrategies(const std::string& s) {
  std::vector<std::string> out;
  if (s.find(';') != std::string::npos) {
    for (absl::string_view part : absl::StrSplit(s, ';', absl::SkipEmpty())) out.emplace_back(part);
    return out;
  }
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    const bool option = part.find('=') != absl::string_view::npos && part.find(':') == absl::string_view::npos;
    if (option && !out.empty()) {
      absl::StrAppend(&out.back(), ",", part);
    } else {
      out.emplace_back(part);
    }
  }
  return out;
}

std::string Latency::Label() const {
  if (dist == "external") return "its own";
  if (dist == "uniform") return absl::StrFormat("%g-%g", a, b);
  if (dist == "normal") return absl::StrFormat("mean %g sd %g", a, b);
  return absl::StrFormat("mean %g", a);
}

double Latency::Draw(Pcg32& rng) const {
  if (dist == "uniform") return rng.Uniform(a, b);
  if (dist == "normal") return std::max(0.0, rng.Normal(a, b));
  return rng.Exponential(a);
}

std::string Latency::PerTaskFlag(double unit) const {
  if (dist == "uniform") return absl::StrCat("uniform:", a * unit, ",", b * unit);
  if (dist == "normal") return absl::StrCat("normal:", a * unit, ",", b * unit);
  return absl::StrCat("exp:", a * unit);
}

}  // namespace codedge::bench
