#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <sstream>
#include <string>

#include "bench/codes_bench.h"
#include "bench/gemm_bench.h"
#include "bench/json.h"
#include "bench/overhead_bench.h"
#include "codes/lt.h"

namespace codedge::bench {
namespace {

TEST_CASE("JsonWriter escapes strings and nests containers", "[bench][json]") {
  JsonWriter w;
  w.BeginObject().Key("a").Int(1).Key("s\"q").String("x\ny\\").Key("list").BeginArray().Number(0.5).Bool(true)
      .Number(std::numeric_limits<double>::infinity()).EndArray().EndObject();
  CHECK(w.str() == R"({"a":1,"s\"q":"x\ny\\","list":[0.5,true,null]})");
}

// The JSON is a public interface: scripts read these keys. A small run
// must produce every documented key (extend, never rename).
TEST_CASE("edge-bench codes JSON keeps its documented shape", "[bench]") {
  CodesBenchOptions o;
  o.runs = 3;
  o.lt_ks = {10, 50};
  o.mds_max_subsets = 5;
  o.timing_rows = 400;
  o.timing_inner = 50;
  o.timing_cols = 4;
  o.timing_repeats = 1;
  auto result = RunCodesBench(o);
  REQUIRE(result.ok());
  const std::string json = CodesJson(*result);
  for (const char* key : {"\"lt\":", "\"k\":", "\"decoder\":\"peeling\"", "\"decoder\":\"peeling+elimination\"",
                          "\"runs\":", "\"overhead_mean\":", "\"overhead_p99\":", "\"mds\":", "\"generator\":",
                          "\"m\":", "\"n\":", "\"subsets\":", "\"worst_cond\":", "\"worst_rel_error\":",
                          "\"median_rel_error\":", "\"default\":true", "\"timing\":", "\"local_product_s\":",
                          "\"lt_encode_s\":", "\"lt_decode_s\":", "\"mds_encode_s\":", "\"mds_decode_s\":"}) {
    INFO(key);
    CHECK(json.find(key) != std::string::npos);
  }
  CHECK(result->lt.size() == 4);
  CHECK(result->mds.size() == 15);  // 5 generators x 3 shapes
  std::ostringstream table;
  PrintCodesTable(*result, table);
  CHECK(table.str().find("LT reception overhead") != std::string::npos);
}

TEST_CASE("edge-bench codes compares the LT decoders with least squares on the same symbols", "[bench]") {
  CodesBenchOptions o;
  o.runs = 1;
  o.lt_ks = {10};
  o.mds_max_subsets = 1;
  o.timing_rows = 100;
  o.timing_inner = 10;
  o.timing_cols = 2;
  o.timing_repeats = 1;
  o.lt_ls_k = 300;
  o.lt_ls_runs = 2;
  auto result = RunCodesBench(o);
  REQUIRE(result.ok());
  REQUIRE(result->lt_conditioning.size() == 4 + 8);  // 2 decoders x 2 seeds, 4 overheads x 2 seeds
  double ls_at_1 = 0, ls_at_8 = 0;
  for (const LtConditioningRow& c : result->lt_conditioning) {
    INFO(c.decoder << " seed " << c.seed);
    if (c.decoder == "least squares only") {
      // More symbols, better conditioned: the 8 % rows beat the 1 % rows.
      if (c.symbols == 303) ls_at_1 = std::max(ls_at_1, c.ls_amplification);
      if (c.symbols == 324) ls_at_8 = std::max(ls_at_8, c.ls_amplification);
      continue;
    }
    CHECK(c.symbols >= c.k);
    // Least squares over every symbol is the best linear estimate: peeling,
    // which solves each source from one equation, is far worse at its
    // overhead; with elimination (least squares over the core) it is close.
    CHECK(c.ls_amplification > 0);
    if (c.decoder == "peeling") CHECK(c.ls_amplification * 5 < c.decoder_amplification);
    CHECK(c.decoder_amplification <= 4 * LtParams{}.max_error_amplification);
  }
  CHECK(ls_at_8 > 0);
  CHECK(ls_at_8 < ls_at_1);
  CHECK(CodesJson(*result).find("\"lt_conditioning\":") != std::string::npos);
  o.lt_ls_k = 6000;
  CHECK(RunCodesBench(o).status().code() == absl::StatusCode::kInvalidArgument);
  o.lt_ls_k = 100;
  o.lt_ls_runs = 0;
  CHECK(RunCodesBench(o).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("edge-bench rejects bad options with InvalidArgument", "[bench]") {
  CodesBenchOptions o;
  o.runs = 0;
  CHECK(RunCodesBench(o).status().code() == absl::StatusCode::kInvalidArgument);
  o = CodesBenchOptions{};
  o.lt_ks = {0};
  CHECK(RunCodesBench(o).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseGemmShapes("10x10").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseGemmShapes("10x0x3").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseGemmShapes("").status().code() == absl::StatusCode::kInvalidArgument);
  auto shapes = ParseGemmShapes("2x3x4,5x6x7");
  REQUIRE(shapes.ok());
  CHECK(shapes->size() == 2);
  CHECK((*shapes)[1].n == 7);
}

TEST_CASE("edge-bench overhead runs end to end on a small cluster", "[bench][cluster]") {
  OverheadOptions o;
  o.rows = 200;
  o.inner = 20;
  o.cols = 2;
  o.e2e_tasks = 4;
  o.e2e_workers = 2;
  o.dispatch_tasks = 300;
  o.dispatch_workers = 3;
  o.repeats = 1;
  auto r = RunOverheadBench(o);
  REQUIRE(r.ok());
  CHECK(r->loopback_bytes_per_s > 0);
  CHECK(r->e2e_s > 0);
  CHECK(r->bound_s > 0);
  CHECK(r->dispatch_tasks == 300);
  CHECK(r->dispatch_tasks_per_s > 0);
  CHECK(OverheadJson(*r).find("\"dispatch_tasks_per_s\":") != std::string::npos);
  o.repeats = 0;
  CHECK(RunOverheadBench(o).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge::bench
