#include "cnn/dataset.h"

#include <zlib.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace codedge::cnn {
namespace {

// The whole file, gunzipped if it is gzip (zlib reads plain files as is).
absl::StatusOr<std::string> ReadAll(const std::string& path) {
  if (!std::filesystem::exists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const int n = gzread(f, buf, sizeof(buf));
    if (n < 0) {
      int err;
      const std::string msg = gzerror(f, &err);
      gzclose(f);
      return absl::DataLossError(absl::StrCat(path, ": corrupt (", msg, ")"));
    }
    if (n == 0) break;
    out.append(buf, n);
    if (out.size() > (size_t{1} << 31)) {
      gzclose(f);
      return absl::InvalidArgumentError(absl::StrCat(path, ": larger than 2 GiB uncompressed"));
    }
  }
  const int rc = gzclose(f);
  if (rc != Z_OK) return absl::DataLossError(absl::StrCat(path, ": truncated or corrupt gzip stream"));
  return out;
}

uint32_t BigEndian(const std::string& s, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 2])) << 8) | static_cast<uint8_t>(s[at + 3]);
}

}  // namespace

absl::StatusOr<Dataset> LoadIdx(const std::string& images_path, const std::string& labels_path, int64_t limit) {
  absl::StatusOr<std::string> img = ReadAll(images_path);
  if (!img.ok()) return img.status();
  absl::StatusOr<std::string> lab = ReadAll(labels_path);
  if (!lab.ok()) return lab.status();
  // idx: magic 0x00000803 (ubyte, 3 dims) then N, rows, cols, then N*rows*cols bytes.
  if (img->size() < 16 || BigEndian(*img, 0) != 0x00000803) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, ": not an idx3 ubyte images file"));
  }
  if (lab->size() < 8 || BigEndian(*lab, 0) != 0x00000801) {
    return absl::InvalidArgumentError(absl::StrCat(labels_path, ": not an idx1 ubyte labels file"));
  }
  const int64_t n = BigEndian(*img, 4), h = BigEndian(*img, 8), w = BigEndian(*img, 12);
  if (h < 1 || w < 1 || h > 4096 || w > 4096) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, ": bad image size ", h, "x", w));
  }
  if (static_cast<int64_t>(img->size()) != 16 + n * h * w) {
    return absl::DataLossError(absl::StrCat(images_path, ": ", img->size(), " bytes for ", n, " images of ", h, "x", w,
                                            " (expected ", 16 + n * h * w, "): truncated or corrupt"));
  }
  const int64_t nl = BigEndian(*lab, 4);
  if (static_cast<int64_t>(lab->size()) != 8 + nl) {
    return absl::DataLossError(absl::StrCat(labels_path, ": ", lab->size(), " bytes for ", nl, " labels: truncated"));
  }
  if (nl != n) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, " has ", n, " images but ", labels_path, " has ", nl,
                                                   " labels"));
  }
  const int64_t keep = limit > 0 ? std::min(limit, n) : n;
  Dataset d;
  d.h = h;
  d.w = w;
  d.c = 1;
  d.classes = 10;
  d.images.resize(keep, h * w);
  const uint8_t* px = reinterpret_cast<const uint8_t*>(img->data()) + 16;
  for (int64_t i = 0; i < keep * h * w; ++i) d.images.data()[i] = static_cast<float>(px[i]) / 255.0f;
  d.labels.resize(keep);
  for (int64_t i = 0; i < keep; ++i) {
    const int32_t l = static_cast<uint8_t>((*lab)[8 + i]);
    if (l >= d.classes) {
      return absl::InvalidArgumentError(absl::StrCat(labels_path, ": label ", l, " of example ", i, " is not in [0, 10)"));
    }
    d.labels[i] = l;
  }
  return d;
}

absl::StatusOr<Dataset> LoadCifar10(const std::vector<std::string>& paths, int64_t limit) {
  constexpr int64_t kSide = 32, kPlane = kSide * kSide, kRecord = 1 + 3 * kPlane;
  if (paths.empty()) return absl::InvalidArgumentError("no CIFAR-10 files given");
  std::string all;
  for (const std::string& p : paths) {
    absl::StatusOr<std::string> bytes = ReadAll(p);
    if (!bytes.ok()) return bytes.status();
    if (bytes->empty() || bytes->size() % kRecord != 0) {
      return absl::DataLossError(absl::StrCat(p, ": ", bytes->size(), " bytes is not a whole number of ", kRecord,
                                              "-byte CIFAR-10 records (truncated or not CIFAR-10)"));
    }
    all += *bytes;
  }
  int64_t n = static_cast<int64_t>(all.size()) / kRecord;
  if (limit > 0) n = std::min(n, limit);
  Dataset d;
  d.h = d.w = kSide;
  d.c = 3;
  d.classes = 10;
  d.images.resize(n, 3 * kPlane);
  d.labels.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = reinterpret_cast<const uint8_t*>(all.data()) + i * kRecord;
    if (r[0] >= 10) return absl::InvalidArgumentError(absl::StrCat("CIFAR-10 record ", i, " has label ", int{r[0]}));
    d.labels[i] = r[0];
    float* out = d.images.row(i).data();
    // planes (c, y, x) -> NHWC (y, x, c)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t px = 0; px < kPlane; ++px) out[px * 3 + c] = static_cast<float>(r[1 + c * kPlane + px]) / 255.0f;
  }
  return d;
}

absl::StatusOr<Dataset> LoadMnistDir(const std::string& dir, const std::string& split, int64_t limit) {
  if (split != "train" && split != "test") {
    return absl::InvalidArgumentError(absl::StrCat("split must be train or test, got '", split, "'"));
  }
  const std::string prefix = split == "train" ? "train" : "t10k";
  auto pick = [&](const std::string& base) {
    const std::string plain = absl::StrCat(dir, "/", prefix, "-", base);
    return std::filesystem::exists(plain) ? plain : plain + ".gz";
  };
  return LoadIdx(pick("images-idx3-ubyte"), pick("labels-idx1-ubyte"), limit);
}

}  // namespace codedge::cnn
