#include <catch2/catch.hpp>

#include <string>

#include "common/address.h"

namespace codedge {
namespace {

TEST_CASE("Addresses: HOST:PORT with a port in range, gRPC URIs passed through, the rest refused", "[address][bad-input]") {
  auto ok = [](const std::string& a, bool listen) { return CheckHostPort(a, "--flag", listen).ok(); };
  for (bool listen : {false, true}) {
    INFO("listen=" << listen);
    CHECK(ok("127.0.0.1:50051", listen));
    CHECK(ok("edge-server.codedge.svc:1", listen));
    CHECK(ok("[::1]:65535", listen));
    CHECK(ok("dns:///edge-server:50051", listen));
    CHECK(ok("unix:/tmp/codedge.sock", listen));
    CHECK_FALSE(ok("127.0.0.1:65536", listen));
    CHECK_FALSE(ok("127.0.0.1:99999", listen));
    CHECK_FALSE(ok("127.0.0.1:", listen));
    CHECK_FALSE(ok("127.0.0.1", listen));
    CHECK_FALSE(ok("50051x", listen));
    CHECK_FALSE(ok("127.0.0.1:5e4", listen));
    CHECK_FALSE(ok("127.0.0.1:-1", listen));
    CHECK_FALSE(ok("127.0.0.1:000050051", listen));
    CHECK_FALSE(ok("::1:50051", listen));  // IPv6 needs brackets
    CHECK_FALSE(ok("", listen));
  }
  // Port 0 (any free port) only for a server's listen address; no host is
  // refused for both (gRPC cannot parse ":PORT"; 0.0.0.0 is every interface).
  CHECK(ok("127.0.0.1:0", true));
  CHECK_FALSE(ok("127.0.0.1:0", false));
  CHECK_FALSE(ok(":50051", true));
  CHECK_FALSE(ok(":50051", false));
  CHECK_FALSE(ok("[::1]", true));  // a bracketed IPv6 address without a port
  // The message names the flag and the value.
  const absl::Status s = CheckHostPort("localhost:99999", "--listen", true);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).find("--listen: 'localhost:99999'") != std::string::npos);
}

}  // namespace
}  // namespace codedge
