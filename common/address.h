// Checking HOST:PORT strings before gRPC sees them: gRPC takes a port of
// 99999 modulo 2^16 and retries a client target without a port forever,
// where a user wants an error naming the flag.
#ifndef CODEDGE_COMMON_ADDRESS_H_
#define CODEDGE_COMMON_ADDRESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace codedge {

// OK for "HOST:PORT" ("[v6]:PORT" too) with a non-empty HOST (gRPC
// refuses ":PORT") and PORT a decimal number in [1, 65535] -- or 0 when
// `listen` (any free port). gRPC target URIs
// ("dns:///host:port", "unix:/path", "ipv4:..." and the like) are passed
// through unchecked. InvalidArgument naming `flag` otherwise.
absl::Status CheckHostPort(absl::string_view address, absl::string_view flag, bool listen);

// Why a server cannot listen on HOST:PORT, as the system says it: the host
// does not resolve, or binding a TCP socket to it fails (strerror, e.g.
// "Address already in use"). Empty if such a socket binds (the cause is
// elsewhere: the TLS credentials, say) or the address is not HOST:PORT.
std::string WhyCannotListen(absl::string_view address);

}  // namespace codedge

#endif  // CODEDGE_COMMON_ADDRESS_H_
