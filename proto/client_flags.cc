#include "proto/client_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(bool, insecure, false, "plaintext to the server (a network you trust; logged as a warning)");
ABSL_FLAG(std::string, tls_ca, "", "TLS: CA certificate (PEM) that signed the server's certificate");
ABSL_FLAG(std::string, tls_cert, "", "mutual TLS: this client's certificate (PEM)");
ABSL_FLAG(std::string, tls_key, "", "mutual TLS: this client's private key (PEM)");
ABSL_FLAG(std::string, tls_server_name, "", "TLS: name to expect in the server's certificate (default: its host)");
ABSL_FLAG(std::string, token_file, "", "file whose first line is the token the server requires");

namespace codedge {

absl::StatusOr<ClientSecurity> ClientSecurityFromFlags() {
  SecurityFiles f;
  f.insecure = absl::GetFlag(FLAGS_insecure);
  f.ca_file = absl::GetFlag(FLAGS_tls_ca);
  f.cert_file = absl::GetFlag(FLAGS_tls_cert);
  f.key_file = absl::GetFlag(FLAGS_tls_key);
  f.server_name = absl::GetFlag(FLAGS_tls_server_name);
  f.token_file = absl::GetFlag(FLAGS_token_file);
  return LoadClientSecurity(f);
}

}  // namespace codedge
