#include "common/logging.h"

#include <string>

#include "absl/strings/str_cat.h"
#include <spdlog/sinks/stdout_color_sinks.h>

namespace codedge {

spdlog::logger& Log() {
  static spdlog::logger* const logger = [] {
    auto l = spdlog::stderr_color_mt("codedge");
    l->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%L%$ %v");
    return l.get();  // kept alive by spdlog's registry
  }();
  return *logger;
}

absl::Status SetLogLevel(absl::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log level '", level, "' (use trace, debug, info, warn, error, off)"));
  }
  Log().set_level(parsed);
  return absl::OkStatus();
}

}  // namespace codedge
