#include "worker/delay.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace codedge {
namespace {

constexpr char kForms[] = "none, const:T, uniform:LO,HI, normal:MEAN,SD, exp:MEAN or shifted-exp:SHIFT,MEAN (seconds)";

}  // namespace

absl::StatusOr<DelaySpec> ParseDelaySpec(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("delay '", text, "': ", why, "; use ", kForms));
  };
  if (text == "none" || text.empty()) return DelaySpec{};
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits(':', 1));
  if (parts.size() != 2) return bad("missing ':'");
  std::vector<double> v;
  for (absl::string_view p : absl::StrSplit(parts[1], ',')) {
    double x;
    if (!absl::SimpleAtod(p, &x) || !std::isfinite(x)) return bad(absl::StrCat("'", p, "' is not a number"));
    if (x < 0) return bad("values must be >= 0");
    v.push_back(x);
  }
  const absl::string_view kind = parts[0];
  DelaySpec s;
  auto need = [&](size_t n) { return v.size() == n; };
  if (kind == "const" && need(1)) {
    s = {DelaySpec::Kind::kConst, v[0], 0};
  } else if (kind == "uniform" && need(2)) {
    if (v[0] > v[1]) return bad("LO > HI");
    s = {DelaySpec::Kind::kUniform, v[0], v[1]};
  } else if (kind == "normal" && need(2)) {
    s = {DelaySpec::Kind::kNormal, v[0], v[1]};
  } else if (kind == "exp" && need(1)) {
    s = {DelaySpec::Kind::kExp, v[0], 0};
  } else if (kind == "shifted-exp" && need(2)) {
    s = {DelaySpec::Kind::kShiftedExp, v[0], v[1]};
  } else {
    return bad("unknown kind or wrong number of values");
  }
  return s;
}

std::string DelaySpecString(const DelaySpec& s) {
  switch (s.kind) {
    case DelaySpec::Kind::kNone: return "none";
    case DelaySpec::Kind::kConst: return absl::StrCat("const:", s.a);
    case DelaySpec::Kind::kUniform: return absl::StrCat("uniform:", s.a, ",", s.b);
    case DelaySpec::Kind::kNormal: return absl::StrCat("normal:", s.a, ",", s.b);
    case DelaySpec::Kind::kExp: return absl::StrCat("exp:", s.a);
    case DelaySpec::Kind::kShiftedExp: return absl::StrCat("shifted-exp:", s.a, ",", s.b);
  }
  return "none";
}

absl::Duration DelaySampler::Next() {
  double sec = 0;
  switch (spec_.kind) {
    case DelaySpec::Kind::kNone: return absl::ZeroDuration();
    case DelaySpec::Kind::kConst: sec = spec_.a; break;
    case DelaySpec::Kind::kUniform: sec = rng_.Uniform(spec_.a, spec_.b); break;
    case DelaySpec::Kind::kNormal: sec = rng_.Normal(spec_.a, spec_.b); break;
    case DelaySpec::Kind::kExp: sec = spec_.a > 0 ? rng_.Exponential(spec_.a) : 0; break;
    case DelaySpec::Kind::kShiftedExp: sec = spec_.a + (spec_.b > 0 ? rng_.Exponential(spec_.b) : 0); break;
  }
  return absl::Seconds(std::max(0.0, sec));
}

}  // namespace codedge
