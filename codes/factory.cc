#include "codes/factory.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "codes/replication.h"
#include "common/status.h"

namespace codedge {
namespace {

absl::Status BadValue(absl::string_view key, absl::string_view value, absl::string_view want) {
  return absl::InvalidArgumentError(absl::StrCat("code parameter ", key, "='", value, "': expected ", want));
}

absl::Status ParseInt(absl::string_view key, absl::string_view value, int64_t* out) {
  if (!absl::SimpleAtoi(value, out)) return BadValue(key, value, "an integer");
  return absl::OkStatus();
}

absl::Status ParseDouble(absl::string_view key, absl::string_view value, double* out) {
  if (!absl::SimpleAtod(value, out)) return BadValue(key, value, "a number");
  return absl::OkStatus();
}

}  // namespace

std::string StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kUncoded: return "uncoded";
    case Strategy::kReplication: return "replication";
    case Strategy::kMds: return "mds";
    case Strategy::kLt: return "lt";
    case Strategy::kSpeculative: return "speculative";
    case Strategy::kPrivate: return "private";
  }
  return "unknown";
}

absl::StatusOr<Strategy> ParseStrategy(absl::string_view name) {
  for (Strategy s : {Strategy::kUncoded, Strategy::kSpeculative, Strategy::kReplication, Strategy::kMds, Strategy::kLt,
                     Strategy::kPrivate}) {
    if (name == StrategyName(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown strategy '", name, "' (use uncoded, speculative, replication, mds, lt or private)"));
}

absl::StatusOr<CodeSpec> ParseCodeSpec(absl::string_view text) { return ParseCodeSpec(text, CodeSpec{}); }

absl::StatusOr<CodeSpec> ParseCodeSpec(absl::string_view text, const CodeSpec& defaults) {
  CodeSpec spec = defaults;
  std::vector<absl::string_view> head = absl::StrSplit(text, absl::MaxSplits(':', 1));
  ASSIGN_OR_RETURN(spec.strategy, ParseStrategy(head[0]));
  if (head.size() < 2) return spec;
  for (absl::string_view item : absl::StrSplit(head[1], ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return absl::InvalidArgumentError(absl::StrCat("code parameter '", item, "': expected key=value"));
    const absl::string_view key = kv[0], value = kv[1];
    const Strategy st = spec.strategy;
    if (key == "seed") {
      if (!absl::SimpleAtoi(value, &spec.seed)) return BadValue(key, value, "an unsigned integer");
    } else if (key == "k" && (st == Strategy::kUncoded || st == Strategy::kSpeculative || st == Strategy::kReplication)) {
      RETURN_IF_ERROR(ParseInt(key, value, &spec.k));
    } else if (key == "copies" && st == Strategy::kReplication) {
      RETURN_IF_ERROR(ParseInt(key, value, &spec.copies));
    } else if (key == "m" && st == Strategy::kMds) {
      RETURN_IF_ERROR(ParseInt(key, value, &spec.m));
    } else if (key == "n" && st == Strategy::kMds) {
      RETURN_IF_ERROR(ParseInt(key, value, &spec.n));
    } else if (key == "generator" && st == Strategy::kMds) {
      ASSIGN_OR_RETURN(spec.generator, ParseMdsGenerator(value));
    } else if (key == "c" && st == Strategy::kLt) {
      RETURN_IF_ERROR(ParseDouble(key, value, &spec.lt.c));
    } else if (key == "delta" && st == Strategy::kLt) {
      RETURN_IF_ERROR(ParseDouble(key, value, &spec.lt.delta));
    } else if (key == "symbol_rows" && st == Strategy::kLt) {
      RETURN_IF_ERROR(ParseInt(key, value, &spec.lt.symbol_rows));
    } else if (key == "symbols_per_task" && st == Strategy::kLt) {
      RETURN_IF_ERROR(ParseInt(key, value, &spec.lt.symbols_per_task));
    } else if (key == "elimination" && st == Strategy::kLt) {
      if (value != "true" && value != "false") return BadValue(key, value, "true or false");
      spec.lt.elimination = value == "true";
    } else if (key == "task_seconds" && st == Strategy::kLt) {
      RETURN_IF_ERROR(ParseDouble(key, value, &spec.lt.task_seconds));
      if (spec.lt.task_seconds < 0) return BadValue(key, value, "a time in seconds >= 0 (0: fixed-size tasks)");
    } else if (key == "max_amplification" && st == Strategy::kLt) {
      RETURN_IF_ERROR(ParseDouble(key, value, &spec.lt.max_error_amplification));
    } else if (key == "k" && st == Strategy::kPrivate) {
      RETURN_IF_ERROR(ParseInt(key, value, &spec.priv.k));
    } else if (key == "t" && st == Strategy::kPrivate) {
      RETURN_IF_ERROR(ParseInt(key, value, &spec.priv.t));
    } else if (key == "n" && st == Strategy::kPrivate) {
      RETURN_IF_ERROR(ParseInt(key, value, &spec.priv.n));
    } else if (key == "bits" && st == Strategy::kPrivate) {
      int64_t bits = 0;
      RETURN_IF_ERROR(ParseInt(key, value, &bits));
      if (bits < 2 || bits > 16) return BadValue(key, value, "2..16 bits of fixed point");
      spec.priv.bits = static_cast<int>(bits);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("strategy ", StrategyName(st), " has no parameter '", key, "'"));
    }
  }
  return spec;
}

std::string CodeSpecString(const CodeSpec& s) {
  switch (s.strategy) {
    case Strategy::kUncoded: return absl::StrCat("uncoded:k=", s.k);
    case Strategy::kSpeculative: return absl::StrCat("speculative:k=", s.k);
    case Strategy::kReplication: return absl::StrCat("replication:k=", s.k, ",copies=", s.copies);
    case Strategy::kMds:
      return absl::StrCat("mds:m=", s.m, ",n=", s.n, ",generator=", MdsGeneratorName(s.generator), ",seed=", s.seed);
    case Strategy::kLt:
      return absl::StrCat("lt:c=", s.lt.c, ",delta=", s.lt.delta, ",symbol_rows=", s.lt.symbol_rows,
                          ",symbols_per_task=", s.lt.symbols_per_task, ",task_seconds=", s.lt.task_seconds, ",elimination=",
                          s.lt.elimination ? "true" : "false", ",max_amplification=", s.lt.max_error_amplification,
                          ",seed=", s.seed);
    case Strategy::kPrivate:
      return absl::StrCat("private:k=", s.priv.k, ",t=", s.priv.t, ",n=", s.priv.n, ",bits=", s.priv.bits);
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Code>> MakeCode(const CodeSpec& spec, int64_t rows) {
  switch (spec.strategy) {
    case Strategy::kUncoded:
    case Strategy::kSpeculative: {
      ASSIGN_OR_RETURN(auto c, CreateUncodedCode(rows, spec.k));
      return std::unique_ptr<Code>(std::move(c));
    }
    case Strategy::kReplication: {
      ASSIGN_OR_RETURN(auto c, ReplicationCode::Create(rows, spec.k, spec.copies));
      return std::unique_ptr<Code>(std::move(c));
    }
    case Strategy::kMds: {
      ASSIGN_OR_RETURN(auto c, MdsCode::Create(rows, spec.m, spec.n, spec.generator, spec.seed));
      return std::unique_ptr<Code>(std::move(c));
    }
    case Strategy::kLt: {
      LtParams p = spec.lt;
      p.seed = spec.seed;
      ASSIGN_OR_RETURN(auto c, LtCode::Create(rows, p));
      return std::unique_ptr<Code>(std::move(c));
    }
    case Strategy::kPrivate:
      return absl::InvalidArgumentError(
          "the private strategy computes over a prime field, not with a float code: an edge server runs it "
          "(TaskPool), codes/private_code.h implements it");
  }
  return absl::InvalidArgumentError("unknown strategy");
}

absl::Status CheckCodeSpec(const CodeSpec& spec, int64_t rows, int64_t inner) {
  if (spec.strategy == Strategy::kPrivate) return PrivateCode::Create(spec.priv, rows, inner).status();
  return MakeCode(spec, rows).status();
}

}  // namespace codedge
