// `--help` and `--version` for the three binaries. Abseil lists under --help only the flags
// of a file named after the program (edge-server.cc); ours live in
// server/main.cc, worker/main.cc, bench/main.cc and proto/client_flags.cc,
// so --help printed "No flags matched". Header-only: each main links the
// Abseil flags libraries already.
#ifndef CODEDGE_COMMON_FLAGS_HELP_H_
#define CODEDGE_COMMON_FLAGS_HELP_H_

#include <string>

#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace codedge {

// Call before absl::ParseCommandLine: --help and --helpshort list every
// flag defined outside Abseil itself (--helpfull still adds Abseil's).
inline void ListOurFlagsInHelp() {
  absl::FlagsUsageConfig config;
  const auto ours = [](absl::string_view file) { return !absl::StrContains(file, "absl/"); };
  config.contains_helpshort_flags = ours;
  config.contains_help_flags = ours;
#ifdef CODEDGE_VERSION  // the binaries' mains (CMake): --version names the release, not the build type
  config.version_string = [] { return std::string("codedge " CODEDGE_VERSION "\n"); };
#endif
  absl::SetFlagsUsageConfig(config);
}

}  // namespace codedge

#endif  // CODEDGE_COMMON_FLAGS_HELP_H_
