#include "common/crypto.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace codedge {
namespace {

constexpr size_t kNonce = 12, kTag = 16;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

}  // namespace

void SecureRandomBytes(void* out, size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  while (n > 0) {
    const int m = static_cast<int>(std::min<size_t>(n, size_t{1} << 30));
    if (RAND_bytes(p, m) != 1) std::abort();
    p += m;
    n -= static_cast<size_t>(m);
  }
}

uint64_t SecureRandomU64() {
  uint64_t v = 0;
  SecureRandomBytes(&v, sizeof(v));
  return v;
}

absl::StatusOr<AeadKey> LoadKeyFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("key file '", path, "': cannot open"));
  std::ostringstream ss;
  ss << f.rdbuf();
  const std::string raw = ss.str();
  AeadKey key;
  const std::string hex(absl::StripAsciiWhitespace(raw));
  if (hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
    const std::string bytes = absl::HexStringToBytes(hex);
    std::copy(bytes.begin(), bytes.end(), key.bytes.begin());
    return key;
  }
  if (raw.size() == 32) {
    std::copy(raw.begin(), raw.end(), key.bytes.begin());
    return key;
  }
  return absl::InvalidArgumentError(absl::StrCat("key file '", path, "': expected 64 hex digits or 32 bytes, found ",
                                                 raw.size(), " bytes (make one with: openssl rand -hex 32 > ", path,
                                                 ")"));
}

absl::StatusOr<std::string> Seal(const AeadKey& key, absl::string_view plaintext, absl::string_view aad) {
  std::string out(kNonce + plaintext.size() + kTag, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(p, kNonce) != 1) return absl::InternalError("OpenSSL: no random nonce");
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), p) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1) {
    return absl::InternalError("OpenSSL: AES-256-GCM set-up failed");
  }
  // In pieces below 2^31 bytes (OpenSSL's int lengths).
  size_t done = 0;
  while (done < plaintext.size()) {
    const int n = static_cast<int>(std::min<size_t>(plaintext.size() - done, size_t{1} << 30));
    if (EVP_EncryptUpdate(ctx.get(), p + kNonce + done, &len,
                          reinterpret_cast<const unsigned char*>(plaintext.data()) + done, n) != 1) {
      return absl::InternalError("OpenSSL: encryption failed");
    }
    done += static_cast<size_t>(n);
  }
  if (EVP_EncryptFinal_ex(ctx.get(), p + kNonce + done, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, p + kNonce + plaintext.size()) != 1) {
    return absl::InternalError("OpenSSL: encryption failed");
  }
  return out;
}

absl::StatusOr<std::string> Open(const AeadKey& key, absl::string_view sealed, absl::string_view aad) {
  if (sealed.size() < kNonce + kTag) return absl::DataLossError("encrypted data too short");
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  const size_t n = sealed.size() - kNonce - kTag;
  std::string out(n, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), p) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1) {
    return absl::InternalError("OpenSSL: AES-256-GCM set-up failed");
  }
  size_t done = 0;
  while (done < n) {
    const int m = static_cast<int>(std::min<size_t>(n - done, size_t{1} << 30));
    if (EVP_DecryptUpdate(ctx.get(), o + done, &len, p + kNonce + done, m) != 1) {
      return absl::DataLossError("decryption failed");
    }
    done += static_cast<size_t>(m);
  }
  std::array<unsigned char, kTag> tag;
  std::copy(p + kNonce + n, p + kNonce + n + kTag, tag.begin());
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), o + done, &len) != 1) {
    return absl::DataLossError("authentication failed: wrong key, or the file was changed or damaged");
  }
  return out;
}

}  // namespace codedge
