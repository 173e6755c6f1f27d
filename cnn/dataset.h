// Image classification data sets: MNIST / Fashion-MNIST in the idx format
// (gzip-compressed or not), read into float images in [0, 1], NHWC order.
#ifndef CODEDGE_CNN_DATASET_H_
#define CODEDGE_CNN_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/matrix.h"

namespace codedge::cnn {

struct Dataset {
  Matrix images;                // (N, H*W*C), values in [0, 1]
  std::vector<int32_t> labels;  // N labels in [0, classes)
  int64_t h = 0, w = 0, c = 0, classes = 0;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// Reads an idx images file and its labels file (".gz" read directly).
// DataLoss / InvalidArgument with the file name for a corrupt, truncated or
// mismatched pair; NotFound for a missing file. `limit` > 0 keeps the first
// `limit` examples.
absl::StatusOr<Dataset> LoadIdx(const std::string& images_path, const std::string& labels_path, int64_t limit = 0);

// CIFAR-10 binary batches (data_batch_1.bin ... or test_batch.bin): records
// of 1 label byte and 3072 pixel bytes (the R, G and B 32x32 planes), read
// into NHWC images in [0, 1]. Several files are concatenated in order.
// DataLoss for a size that is not a whole number of records.
absl::StatusOr<Dataset> LoadCifar10(const std::vector<std::string>& paths, int64_t limit = 0);

// The Debian package dataset-fashion-mnist installs here.
inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";
// "train" or "test" split of MNIST-format files in `dir`
// ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]).
absl::StatusOr<Dataset> LoadMnistDir(const std::string& dir, const std::string& split, int64_t limit = 0);

}  // namespace codedge::cnn

#endif  // CODEDGE_CNN_DATASET_H_
