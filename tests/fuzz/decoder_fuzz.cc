// libFuzzer harness: the decoders fed arbitrary results -- any task ids,
// shapes, values (NaN, Inf, huge), repeats -- must answer with a status,
// never crash, hang or read out of bounds. Built with -DCODEDGE_FUZZ=ON
// under clang (make fuzz).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "codes/factory.h"
#include "codes/private_code.h"

namespace codedge {
namespace {

struct Reader {
  const uint8_t* p;
  size_t n;
  uint8_t Byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  float Float() {
    float f = 0;
    uint8_t b[4] = {Byte(), Byte(), Byte(), Byte()};
    std::memcpy(&f, b, 4);
    return f;
  }
};

void Decoders(Reader in) {
  static const char* kSpecs[] = {"uncoded:k=3",        "replication:k=3,copies=2", "mds:m=5,n=3",
                                 "mds:m=6,n=4,generator=systematic", "lt:symbols_per_task=2", "speculative:k=2"};
  const char* text = kSpecs[in.Byte() % 6];
  const int64_t rows = 1 + in.Byte() % 24, cols = 1 + in.Byte() % 3;
  auto spec = ParseCodeSpec(text);
  if (!spec.ok()) return;
  auto code = MakeCode(*spec, rows);
  if (!code.ok()) return;
  auto decoder = (*code)->NewDecoder();
  for (int step = 0; step < 64 && in.n > 0; ++step) {
    const int64_t id = static_cast<int8_t>(in.Byte());  // negative ids too
    const uint8_t shape = in.Byte();
    auto task = (*code)->Task(id);
    int64_t r = task.ok() ? static_cast<int64_t>(task->symbols.size()) * (*code)->layout().symbol_rows : 1;
    int64_t c = cols;
    if (shape & 1) r += 1;  // wrong shapes now and then
    if (shape & 2) c += 1;
    if (r * c > 4096) continue;
    Matrix result(r, c);
    for (int64_t e = 0; e < result.size(); ++e) result.data()[e] = in.Float();
    auto st = task.ok() && (shape & 4) ? decoder->Add(*task, result) : decoder->Add(id, result);
    if (st.ok() && *st == DecodeState::kDecodable) {
      (void)decoder->Decode();
      return;
    }
  }
}

void Private(Reader in) {
  PrivateParams p;
  p.k = 1 + in.Byte() % 3;
  p.t = 1 + in.Byte() % 2;
  p.n = p.k + p.t + in.Byte() % 3;
  auto code = PrivateCode::Create(p, 1 + in.Byte() % 6, 1 + in.Byte() % 4);
  if (!code.ok()) return;
  std::vector<int64_t> ids;
  std::vector<FieldMatrix> results;
  const int64_t cols = 1 + in.Byte() % 2;
  for (int64_t i = 0; i < code->recovery_threshold(); ++i) {
    ids.push_back(static_cast<int8_t>(in.Byte()) % (p.n + 1));
    FieldMatrix m(code->block_rows() + (in.Byte() & 1), cols);
    for (int64_t e = 0; e < m.size(); ++e) m.data()[e] = (uint64_t{in.Byte()} << 53 | in.Byte()) % kFieldPrime;
    results.push_back(m);
  }
  (void)code->Decode(ids, results);
}

}  // namespace
}  // namespace codedge

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  codedge::Reader in{data, size};
  if (in.Byte() % 4 == 0) {
    codedge::Private(in);
  } else {
    codedge::Decoders(in);
  }
  return 0;
}
