// The command-line flags of a client of an edge-server (edge-worker,
// edge-bench --server): --insecure, --tls_ca, --tls_cert, --tls_key,
// --tls_server_name, --token_file. Defined once here for every binary that
// links codedge_client_flags.
#ifndef CODEDGE_PROTO_CLIENT_FLAGS_H_
#define CODEDGE_PROTO_CLIENT_FLAGS_H_

#include "absl/status/statusor.h"
#include "proto/credentials.h"

namespace codedge {

// The security the flags ask for (LoadClientSecurity's errors otherwise).
absl::StatusOr<ClientSecurity> ClientSecurityFromFlags();

}  // namespace codedge

#endif  // CODEDGE_PROTO_CLIENT_FLAGS_H_
