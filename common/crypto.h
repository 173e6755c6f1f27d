// Authenticated encryption of files at rest (issue 6): AES-256-GCM from
// OpenSSL. A stolen device's checkpoints and weights reveal nothing without
// the key, and a tampered file is refused rather than loaded.
//
// Sealed layout: 12-byte random nonce | ciphertext | 16-byte tag; the
// caller's `aad` (a file header) is authenticated, not encrypted.
#ifndef CODEDGE_COMMON_CRYPTO_H_
#define CODEDGE_COMMON_CRYPTO_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace codedge {

struct AeadKey {
  std::array<uint8_t, 32> bytes{};
};

// A key file holds 64 hex digits (e.g. `openssl rand -hex 32 > key`;
// surrounding whitespace ignored) or exactly 32 raw bytes. NotFound or
// InvalidArgument otherwise, naming the file.
absl::StatusOr<AeadKey> LoadKeyFile(const std::string& path);

// Bytes from OpenSSL's CSPRNG (aborts if the system has no randomness).
void SecureRandomBytes(void* out, size_t n);
uint64_t SecureRandomU64();

// Internal only if OpenSSL itself fails (no randomness).
absl::StatusOr<std::string> Seal(const AeadKey& key, absl::string_view plaintext, absl::string_view aad);
// DataLoss when the key is wrong or any byte (or the aad) was changed.
absl::StatusOr<std::string> Open(const AeadKey& key, absl::string_view sealed, absl::string_view aad);

}  // namespace codedge

#endif  // CODEDGE_COMMON_CRYPTO_H_
