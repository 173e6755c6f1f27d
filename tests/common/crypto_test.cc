#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "common/crypto.h"

namespace codedge {
namespace {

TEST_CASE("AES-256-GCM seals and opens; a wrong key, a changed byte or header is refused", "[crypto]") {
  AeadKey key, wrong;
  for (size_t i = 0; i < 32; ++i) key.bytes[i] = static_cast<uint8_t>(i), wrong.bytes[i] = static_cast<uint8_t>(i);
  wrong.bytes[31] ^= 1;
  for (const std::string& plain : {std::string(), std::string("x"), std::string(100000, 'a')}) {
    auto sealed = Seal(key, plain, "header");
    REQUIRE(sealed.ok());
    CHECK(sealed->size() == plain.size() + 28);
    auto opened = Open(key, *sealed, "header");
    REQUIRE(opened.ok());
    CHECK(*opened == plain);
    CHECK(Open(wrong, *sealed, "header").status().code() == absl::StatusCode::kDataLoss);
    CHECK(Open(key, *sealed, "headeR").status().code() == absl::StatusCode::kDataLoss);
    for (size_t at = 0; at < sealed->size(); at += 1 + sealed->size() / 50) {
      std::string changed = *sealed;
      changed[at] = static_cast<char>(changed[at] ^ 1);
      CHECK(Open(key, changed, "header").status().code() == absl::StatusCode::kDataLoss);
    }
    // Fresh nonces: the same plaintext never seals to the same bytes.
    CHECK(*Seal(key, plain, "header") != *sealed);
  }
  CHECK(Open(key, "short", "").status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("Key files: 64 hex digits or 32 raw bytes, anything else refused clearly", "[crypto][bad-input]") {
  const std::string path = "/tmp/codedge-crypto-test.key";
  std::ofstream(path) << "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
  auto k = LoadKeyFile(path);
  REQUIRE(k.ok());
  CHECK(k->bytes[0] == 0);
  CHECK(k->bytes[31] == 0x1f);
  std::ofstream(path, std::ios::binary) << std::string(32, '\x7f');
  REQUIRE(LoadKeyFile(path).ok());
  CHECK(LoadKeyFile(path)->bytes[5] == 0x7f);
  std::ofstream(path) << "abc";
  CHECK(LoadKeyFile(path).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(LoadKeyFile(path).status().message().find("openssl rand -hex 32") != std::string::npos);
  CHECK(LoadKeyFile("/tmp/does-not-exist.key").status().code() == absl::StatusCode::kNotFound);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace codedge
