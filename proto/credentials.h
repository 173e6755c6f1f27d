// Transport security shared by server/, worker/ and the bench's clients:
// TLS, mutual TLS and a shared token (issue 6).
//
//   plaintext   only when asked for (`insecure`), and the caller logs a
//               warning: anyone on the network can read A and join as a
//               worker.
//   TLS         the server proves itself with a certificate; clients check
//               it against `ca_file` (or the system's roots).
//   mutual TLS  the server also requires a client certificate signed by its
//               `ca_file` (workers and clients alike): a peer without one
//               fails the handshake and never reaches a service.
//   token       every call carries "authorization: Bearer <token>"; the
//               server compares it in constant time and refuses a call
//               without the right one (UNAUTHENTICATED). Combines with
//               either of the above; over plaintext the token itself
//               travels in the clear.
//
// Files are PEM; a token file holds the token on its first line.
#ifndef CODEDGE_PROTO_CREDENTIALS_H_
#define CODEDGE_PROTO_CREDENTIALS_H_

#include <map>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"

namespace codedge {

struct SecurityFiles {
  bool insecure = false;   // plaintext, explicitly
  std::string ca_file;     // server: CA of client certificates (mutual TLS); client: CA of the server's
  std::string cert_file;   // own certificate chain
  std::string key_file;    // own private key
  std::string token_file;  // shared token
  std::string server_name; // client: name to expect in the server's certificate (default: the address's host)
};

struct ServerSecurity {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  std::string token;     // empty: no token required
  bool plaintext = false;
  bool mutual = false;   // client certificates required
  std::string Describe() const;  // for the log: "mutual TLS + token", ...
};

struct ClientSecurity {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string token;
  std::string server_name;  // SSL target name override (empty: none)
  bool plaintext = false;
  // Channel arguments for a channel to the server (the name override).
  void Apply(grpc::ChannelArguments* args) const;
  // Adds the token (if any) to a call.
  void Apply(grpc::ClientContext* ctx) const;
};

// InvalidArgument for contradictory or missing choices (neither TLS files
// nor `insecure`, a key without a certificate, ...; a client's TLS needs
// ca_file or a certificate), NotFound/Internal for
// files that cannot be read, each naming the flag to fix.
absl::StatusOr<ServerSecurity> LoadServerSecurity(const SecurityFiles& f);
absl::StatusOr<ClientSecurity> LoadClientSecurity(const SecurityFiles& f);

// Plaintext on both sides, for in-process tests and the benchmarks' own
// loopback clusters.
ServerSecurity PlaintextServer();
ClientSecurity PlaintextClient();

// OK when no token is required or the call's metadata carries the right
// one; UNAUTHENTICATED otherwise. Constant time in the token's content.
grpc::Status CheckToken(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                        const std::string& token);

inline constexpr char kTokenMetadataKey[] = "authorization";

}  // namespace codedge

#endif  // CODEDGE_PROTO_CREDENTIALS_H_
