#include <catch2/catch.hpp>

#include "codes/code.h"
#include "codes/lt.h"
#include "codes/mds.h"
#include "codes/replication.h"

namespace codedge {
namespace {

TEST_CASE("SourceLayout covers every row exactly once, ragged last block", "[layout]") {
  for (int64_t rows : {1, 2, 7, 10, 11, 99, 100, 1001}) {
    for (int64_t k : {1, 2, 3, 10, 13, 200}) {
      auto l = SourceLayout::ForSymbolCount(rows, k);
      REQUIRE(l.ok());
      int64_t covered = 0, next = 0;
      for (int64_t s = 0; s < l->num_symbols; ++s) {
        CHECK(l->SymbolBegin(s) == next);
        CHECK(l->SymbolEnd(s) - l->SymbolBegin(s) <= l->symbol_rows);
        covered += l->SymbolEnd(s) - l->SymbolBegin(s);
        next = l->SymbolEnd(s);
      }
      CHECK(covered == rows);
    }
  }
}

TEST_CASE("Exposure: which tasks reveal raw rows of A", "[layout][privacy]") {
  auto uncoded = CreateUncodedCode(10, 5);
  REQUIRE(uncoded.ok());
  for (int64_t t = 0; t < 5; ++t) {
    auto e = Exposure(*(*uncoded)->Task(t), (*uncoded)->layout());
    CHECK(e.raw_rows_exposed == 2);
    CHECK(e.touched_rows == 2);
  }
  auto gauss = MdsCode::Create(10, 8, 5, MdsGenerator::kGaussian, 3);
  REQUIRE(gauss.ok());
  for (int64_t t = 0; t < 8; ++t) {
    auto e = Exposure(*(*gauss)->Task(t), (*gauss)->layout());
    CHECK(e.raw_rows_exposed == 0);
    CHECK(e.touched_rows == 10);
  }
  auto rot = MdsCode::Create(10, 8, 5, MdsGenerator::kRotation);
  REQUIRE(rot.ok());
  for (int64_t t = 0; t < 8; ++t) {
    auto e = Exposure(*(*rot)->Task(t), (*rot)->layout());
    CHECK(e.raw_rows_exposed == 0);
    CHECK(e.touched_rows == 10);
  }
  auto sys = MdsCode::Create(10, 8, 5, MdsGenerator::kSystematic, 3);
  REQUIRE(sys.ok());
  for (int64_t t = 0; t < 8; ++t) {
    auto e = Exposure(*(*sys)->Task(t), (*sys)->layout());
    CHECK(e.raw_rows_exposed == (t < 5 ? 2 : 0));
  }
  LtParams p;
  p.symbols_per_task = 50;
  auto lt = LtCode::Create(1000, p);
  REQUIRE(lt.ok());
  auto task = (*lt)->Task(3);
  REQUIRE(task.ok());
  int64_t degree_one = 0;
  for (const auto& s : task->symbols) degree_one += s.sources.size() == 1;
  CHECK(Exposure(*task, (*lt)->layout()).raw_rows_exposed == degree_one);
}

}  // namespace
}  // namespace codedge

namespace codedge {
namespace {

// The batched encoder (one GEMM for dense codes) against the per-task sums.
TEST_CASE("EncodeTasks equals Encode task by task, ragged and strided A included", "[encode]") {
  Pcg32 rng(77, 1);
  for (int64_t rows : {1, 7, 30, 31}) {
    Matrix wide(rows, 9);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < 9; ++j) wide(i, j) = static_cast<float>(rng.Uniform(-1, 1));
    const auto a = wide.leftCols(5);  // a strided view: outer stride 9
    std::vector<std::unique_ptr<Code>> codes;
    codes.push_back(*MdsCode::Create(rows, 7, 4, MdsGenerator::kRotation));
    codes.push_back(*MdsCode::Create(rows, 6, 3, MdsGenerator::kGaussian));
    codes.push_back(*CreateUncodedCode(rows, 3));
    LtParams p;
    p.symbols_per_task = 3;
    codes.push_back(*LtCode::Create(rows, p));
    for (const auto& code : codes) {
      INFO(code->name() << " rows=" << rows);
      std::vector<TaskSpec> tasks;
      for (int64_t t = 0; t < 5; ++t) {
        if (code->num_tasks() && t >= *code->num_tasks()) break;
        tasks.push_back(*code->Task(t));
      }
      auto batch = code->EncodeTasks(tasks, a);
      REQUIRE(batch.ok());
      REQUIRE(batch->size() == tasks.size());
      for (size_t t = 0; t < tasks.size(); ++t) {
        const Matrix one = *code->Encode(tasks[t], a);
        REQUIRE((*batch)[t].rows() == one.rows());
        REQUIRE((*batch)[t].cols() == one.cols());
        CHECK(((*batch)[t] - one).cwiseAbs().maxCoeff() <= 1e-5f);
      }
    }
  }
}

}  // namespace
}  // namespace codedge
