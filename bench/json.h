// A small streaming JSON writer for the benchmark reports (no dependency for
// a few hundred bytes of output). Not thread-safe.
#ifndef CODEDGE_BENCH_JSON_H_
#define CODEDGE_BENCH_JSON_H_

#include <string>
#include <string_view>
#include <vector>

namespace codedge::bench {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Number(double value);  // non-finite values are written as null
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);

  // The document so far (complete once every object/array is closed).
  const std::string& str() const { return out_; }

 private:
  void BeforeValue();
  void Quote(std::string_view value);
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace codedge::bench

#endif  // CODEDGE_BENCH_JSON_H_
