// Logging accessor. One line per event worth knowing, numbers with units.
#ifndef CODEDGE_COMMON_LOGGING_H_
#define CODEDGE_COMMON_LOGGING_H_

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include <spdlog/spdlog.h>

namespace codedge {

// The process-wide "codedge" logger (stderr, thread-safe). Never null.
spdlog::logger& Log();

// Sets the level by name: trace, debug, info, warn, error, off.
absl::Status SetLogLevel(absl::string_view level);

}  // namespace codedge

#endif  // CODEDGE_COMMON_LOGGING_H_
