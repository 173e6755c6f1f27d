#include <catch2/catch.hpp>

#include <sstream>

#include "absl/strings/str_cat.h"
#include "bench/in_process_cluster.h"
#include "bench/scale_bench.h"
#include "bench/status.h"

namespace codedge::bench {
namespace {

TEST_CASE("The scale benchmark measures one server and a split over cells, checking every product", "[bench][scale]") {
  ScaleOptions o;
  o.workers = {2, 4};
  o.cells = 2;
  o.concurrency = 2;
  o.seconds = 0.2;
  o.bulk_mb = 1;
  auto r = RunScaleBench(o);
  REQUIRE(r.ok());
  REQUIRE(r->points.size() == 3);  // 1 x 2, 1 x 4, 2 x (2 + 2)
  CHECK(r->points[0].servers == 1);
  CHECK(r->points[0].workers == 2);
  CHECK(r->points[2].servers == 2);
  CHECK(r->points[2].workers == 4);
  for (const ScalePoint& p : r->points) {
    CHECK(p.jobs > 0);
    CHECK(p.tasks_per_s > 0);
    CHECK(p.bulk_bytes_per_s > 0);
    CHECK(p.connect_s > 0);
  }
  CHECK(ScaleJson(*r).find("\"tasks_per_s\"") != std::string::npos);
}

TEST_CASE("The scale benchmark refuses impossible settings", "[bench][scale][bad-input]") {
  ScaleOptions o;
  o.workers = {0};
  CHECK(RunScaleBench(o).status().code() == absl::StatusCode::kInvalidArgument);
  o.workers = {1};
  o.cells = 2;  // more cells than workers
  CHECK(RunScaleBench(o).status().code() == absl::StatusCode::kInvalidArgument);
  o.cells = 0;
  CHECK(RunScaleBench(o).status().code() == absl::StatusCode::kInvalidArgument);
  o.cells = 1;
  o.seconds = 0;
  CHECK(RunScaleBench(o).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace codedge::bench

namespace codedge::bench {
namespace {

TEST_CASE("edge-bench status lists a running server's workers; a dead address is an error", "[bench][status]") {
  auto cluster = StartInProcessCluster(2);
  REQUIRE(cluster.ok());
  const std::string server = absl::StrCat("127.0.0.1:", (*cluster)->server->port());
  auto status = FetchClusterStatus(server, PlaintextClient());
  REQUIRE(status.ok());
  CHECK(status->workers_size() == 2);
  std::ostringstream out;
  PrintClusterStatus(*status, server, absl::Now(), out);
  CHECK(out.str().find(": 2 workers, 0 jobs in flight") != std::string::npos);
  CHECK(out.str().find("bench-1") != std::string::npos);
  CHECK(out.str().find(" ok") != std::string::npos);
  auto dead = FetchClusterStatus("127.0.0.1:1", PlaintextClient(), absl::Seconds(2));
  CHECK_FALSE(dead.ok());
}

}  // namespace
}  // namespace codedge::bench
