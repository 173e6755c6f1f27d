#include "common/address.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace codedge {

namespace {

// A gRPC target URI rather than HOST:PORT.
bool IsGrpcUri(absl::string_view address) {
  for (absl::string_view scheme : {"dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:", "vsock:"}) {
    if (absl::StartsWith(address, scheme)) return true;
  }
  return false;
}

}  // namespace

absl::Status CheckHostPort(absl::string_view address, absl::string_view flag, bool listen) {
  if (IsGrpcUri(address)) return absl::OkStatus();
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", address, "' is not HOST:PORT (", why, "), e.g. ",
                     listen ? "0.0.0.0:50051 or 127.0.0.1:0" : "192.168.1.10:50051 or edge-server:50051"));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || absl::EndsWith(address, "]")) return bad("no port");
  const absl::string_view host = address.substr(0, colon), port = address.substr(colon + 1);
  if (host.empty()) return bad(listen ? "no host: 0.0.0.0 listens on every interface" : "no host");
  if (host.find(':') != absl::string_view::npos && !(absl::StartsWith(host, "[") && absl::EndsWith(host, "]"))) {
    return bad("an IPv6 address goes in brackets: [::1]:50051");
  }
  uint32_t value = 0;
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &value)) {
    return bad("the port is not a number");
  }
  if (value > 65535 || (value == 0 && !listen)) {
    return bad(listen ? "the port must be in [0, 65535]; 0: any free port" : "the port must be in [1, 65535]");
  }
  return absl::OkStatus();
}

std::string WhyCannotListen(absl::string_view address) {
  if (IsGrpcUri(address)) return "";
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return "";
  std::string host(address.substr(0, colon));
  const std::string port(address.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::StrCat("'", host, "' does not resolve: ", gai_strerror(rc));
  }
  std::string why;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // as gRPC does
    const bool bound = bind(fd, a->ai_addr, a->ai_addrlen) == 0;
    const int err = errno;
    close(fd);
    if (bound) {
      why.clear();
      break;
    }
    why = std::strerror(err);
  }
  freeaddrinfo(found);
  return why;
}

}  // namespace codedge
