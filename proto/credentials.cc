#include "proto/credentials.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace codedge {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot open '", path, "'"));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(flag, ": cannot read '", path, "'"));
  return ss.str();
}

// A PEM file of the kind the flag wants: gRPC takes any bytes here and
// fails each connection later with a message that names neither the flag
// nor the file ("empty address list", a handshake error), forever.
absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag, bool key) {
  absl::StatusOr<std::string> text = ReadFile(path, flag);
  if (!text.ok()) return text;
  // "CERTIFICATE-----" also matches TRUSTED and X509 CERTIFICATE blocks.
  const bool ok = text->find("-----BEGIN") != std::string::npos &&
                  text->find(key ? "PRIVATE KEY-----" : "CERTIFICATE-----") != std::string::npos;
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": '", path, "' holds no PEM ",
                                                   key ? "private key (-----BEGIN ... PRIVATE KEY-----)"
                                                       : "certificate (-----BEGIN CERTIFICATE-----)"));
  }
  return text;
}

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  if (path.empty()) return std::string();
  auto text = ReadFile(path, "--token_file");
  if (!text.ok()) return text.status();
  std::string token(absl::StripAsciiWhitespace(text->substr(0, text->find('\n'))));
  if (token.size() < 16) {
    return absl::InvalidArgumentError(absl::StrCat("--token_file '", path, "': the token (first line) has ",
                                                   token.size(), " characters; use at least 16 (e.g. openssl rand "
                                                   "-hex 32)"));
  }
  return token;
}

// Equal iff same length and bytes; the time depends on the lengths only.
bool ConstantTimeEquals(const char* a, size_t na, const char* b, size_t nb) {
  unsigned char diff = na == nb ? 0 : 1;
  const size_t n = na < nb ? na : nb;
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

std::string ServerSecurity::Describe() const {
  std::string s = plaintext ? "plaintext" : mutual ? "mutual TLS" : "TLS";
  if (!token.empty()) s += " + token";
  return s;
}

void ClientSecurity::Apply(grpc::ChannelArguments* args) const {
  if (!server_name.empty()) args->SetSslTargetNameOverride(server_name);
}

void ClientSecurity::Apply(grpc::ClientContext* ctx) const {
  if (!token.empty()) ctx->AddMetadata(kTokenMetadataKey, absl::StrCat("Bearer ", token));
}

absl::StatusOr<ServerSecurity> LoadServerSecurity(const SecurityFiles& f) {
  ServerSecurity s;
  auto token = ReadToken(f.token_file);
  if (!token.ok()) return token.status();
  s.token = *token;
  const bool any_tls = !f.cert_file.empty() || !f.key_file.empty() || !f.ca_file.empty();
  if (f.insecure) {
    if (any_tls) {
      return absl::InvalidArgumentError("--insecure together with TLS files: choose plaintext or TLS, not both");
    }
    s.credentials = grpc::InsecureServerCredentials();
    s.plaintext = true;
    return s;
  }
  if (f.cert_file.empty() != f.key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together (the server's certificate and its key)");
  }
  if (f.cert_file.empty() || f.key_file.empty()) {
    return absl::InvalidArgumentError(
        "no transport security chosen: give --tls_cert and --tls_key (TLS; add --tls_client_ca for mutual TLS), or "
        "--insecure for plaintext on a network you trust (scripts/make-dev-certs.sh makes a development CA)");
  }
  auto cert = ReadPem(f.cert_file, "--tls_cert", /*key=*/false);
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(f.key_file, "--tls_key", /*key=*/true);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions o(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!f.ca_file.empty()) {
    auto ca = ReadPem(f.ca_file, "--tls_client_ca", /*key=*/false);
    if (!ca.ok()) return ca.status();
    o.pem_root_certs = *ca;
    o.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    s.mutual = true;
  }
  o.pem_key_cert_pairs.push_back({*key, *cert});
  s.credentials = grpc::SslServerCredentials(o);
  if (!s.credentials) return absl::InvalidArgumentError("the TLS certificate or key was refused by gRPC");
  return s;
}

absl::StatusOr<ClientSecurity> LoadClientSecurity(const SecurityFiles& f) {
  ClientSecurity c;
  auto token = ReadToken(f.token_file);
  if (!token.ok()) return token.status();
  c.token = *token;
  const bool any_tls = !f.cert_file.empty() || !f.key_file.empty() || !f.ca_file.empty() || !f.server_name.empty();
  if (f.insecure) {
    if (any_tls) {
      return absl::InvalidArgumentError("--insecure together with TLS options: choose plaintext or TLS, not both");
    }
    c.credentials = grpc::InsecureChannelCredentials();
    c.plaintext = true;
    return c;
  }
  if (f.ca_file.empty() && f.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "no transport security chosen: give --tls_ca (TLS; add --tls_cert and --tls_key for mutual TLS), or "
        "--insecure for plaintext on a network you trust");
  }
  if (f.cert_file.empty() != f.key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together (a client certificate for mutual TLS)");
  }
  grpc::SslCredentialsOptions o;
  if (!f.ca_file.empty()) {
    auto ca = ReadPem(f.ca_file, "--tls_ca", /*key=*/false);
    if (!ca.ok()) return ca.status();
    o.pem_root_certs = *ca;
  }
  if (!f.cert_file.empty()) {
    auto cert = ReadPem(f.cert_file, "--tls_cert", /*key=*/false);
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(f.key_file, "--tls_key", /*key=*/true);
    if (!key.ok()) return key.status();
    o.pem_cert_chain = *cert;
    o.pem_private_key = *key;
  }
  c.credentials = grpc::SslCredentials(o);
  c.server_name = f.server_name;
  return c;
}

ServerSecurity PlaintextServer() {
  ServerSecurity s;
  s.credentials = grpc::InsecureServerCredentials();
  s.plaintext = true;
  return s;
}

ClientSecurity PlaintextClient() {
  ClientSecurity c;
  c.credentials = grpc::InsecureChannelCredentials();
  c.plaintext = true;
  return c;
}

grpc::Status CheckToken(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata, const std::string& token) {
  if (token.empty()) return grpc::Status::OK;
  const std::string expected = absl::StrCat("Bearer ", token);
  auto it = metadata.find(kTokenMetadataKey);
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "this server requires a token (--token_file); none was sent");
  }
  if (!ConstantTimeEquals(it->second.data(), it->second.size(), expected.data(), expected.size())) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong token (--token_file)");
  }
  return grpc::Status::OK;
}

}  // namespace codedge
