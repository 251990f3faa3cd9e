// Disk block header: round trip and rejection of every kind of damage.
#include "prefix_cache/disk_format.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "prefix_cache/crc32c.h"

namespace cachet::prefix_cache {
namespace {

DiskBlockHeader SampleHeader() {
  DiskBlockHeader h;
  h.geometry = kv::KvGeometry{4, 1024, 1024};
  h.payload_bytes = h.geometry.block_bytes();
  h.write_time_us = 1234567;
  h.model_fp = ModelFingerprintDigest("m");
  h.salt_fp = SaltFingerprint("s");
  h.parent = ChainRoot("m", "s");
  for (int i = 0; i < kBlockTokens; ++i) h.tokens[i] = i * 7 - 3;
  h.hash = ChainNext(h.parent, h.tokens);
  h.payload_crc = 0xdeadbeef;
  return h;
}

TEST(DiskFormat, HeaderRoundTrip) {
  const DiskBlockHeader h = SampleHeader();
  const std::string enc = EncodeDiskHeader(h);
  ASSERT_EQ(enc.size(), kDiskHeaderBytes);
  EXPECT_EQ(enc.substr(0, 8), "CACHETKV");
  DiskBlockHeader d;
  ASSERT_TRUE(DecodeDiskHeader(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), &d).ok());
  EXPECT_EQ(d.geometry.n_layer, 4);
  EXPECT_EQ(d.geometry.k_bytes, 1024);
  EXPECT_EQ(d.payload_bytes, 8192);
  EXPECT_EQ(d.write_time_us, 1234567);
  EXPECT_EQ(d.model_fp, h.model_fp);
  EXPECT_EQ(d.salt_fp, h.salt_fp);
  EXPECT_EQ(d.hash, h.hash);
  EXPECT_EQ(d.parent, h.parent);
  EXPECT_EQ(d.tokens, h.tokens);
  EXPECT_EQ(d.payload_crc, 0xdeadbeefu);
  EXPECT_TRUE(CheckDiskHeaderCompatible(d, h.model_fp, h.geometry).ok());
  EXPECT_EQ(CheckDiskHeaderCompatible(d, ModelFingerprintDigest("other"), h.geometry).code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(CheckDiskHeaderCompatible(d, h.model_fp, kv::KvGeometry{4, 1024, 0}).code(),
            StatusCode::kCorrupt);
}

TEST(DiskFormat, EveryFlippedHeaderByteIsRejected) {
  const std::string enc = EncodeDiskHeader(SampleHeader());
  for (size_t i = 0; i < enc.size(); ++i) {
    std::string bad = enc;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    DiskBlockHeader d;
    EXPECT_FALSE(
        DecodeDiskHeader(reinterpret_cast<const uint8_t*>(bad.data()), bad.size(), &d).ok())
        << "byte " << i;
  }
  DiskBlockHeader d;
  EXPECT_FALSE(DecodeDiskHeader(reinterpret_cast<const uint8_t*>(enc.data()), 511, &d).ok());
}

// A header whose CRC is valid but whose fields are nonsense (written by a hostile or buggy
// writer) is still refused.
TEST(DiskFormat, ValidCrcButBadFieldsRejected) {
  DiskBlockHeader h = SampleHeader();
  h.payload_bytes += 1;
  std::string enc = EncodeDiskHeader(h);
  DiskBlockHeader d;
  EXPECT_EQ(DecodeDiskHeader(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), &d).code(),
            StatusCode::kCorrupt);
  h = SampleHeader();
  h.geometry.n_layer = -1;
  h.payload_bytes = -2048;
  enc = EncodeDiskHeader(h);
  EXPECT_EQ(DecodeDiskHeader(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), &d).code(),
            StatusCode::kCorrupt);
  h = SampleHeader();
  h.block_tokens = 32;
  enc = EncodeDiskHeader(h);
  EXPECT_EQ(DecodeDiskHeader(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), &d).code(),
            StatusCode::kCorrupt);
}

// Hostile headers: random fields behind a valid magic, version and CRC must decode to a
// consistent header or be refused — never overflow or crash (run under ASan/UBSan too).
TEST(DiskFormat, RandomHeadersWithValidCrcNeverCrash) {
  std::mt19937_64 rng(9);
  int accepted = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string h(kDiskHeaderBytes, '\0');
    for (auto& c : h) c = static_cast<char>(rng());
    std::memcpy(h.data(), kDiskMagic, 8);
    const uint32_t words[3] = {kDiskFormatVersion, static_cast<uint32_t>(kDiskHeaderBytes),
                               static_cast<uint32_t>(kBlockTokens)};
    std::memcpy(h.data() + 8, words, 12);  // little-endian host
    std::memset(h.data() + 20, 0, 4);
    std::memset(h.data() + 452, 0, 56);
    if (iter % 2 == 0) {  // small geometry values so some headers pass the size checks
      for (int f = 0; f < 3; ++f) {
        const uint64_t v = rng() % 4096 + (f == 0 ? 1 : 0);
        std::memcpy(h.data() + 24 + 8 * f, &v, 8);
      }
      uint64_t n, k, vb;
      std::memcpy(&n, h.data() + 24, 8);
      std::memcpy(&k, h.data() + 32, 8);
      std::memcpy(&vb, h.data() + 40, 8);
      const uint64_t payload = n * (k + vb);
      std::memcpy(h.data() + 48, &payload, 8);
    }
    const uint32_t crc = Crc32c(h.data(), 508);
    std::memcpy(h.data() + 508, &crc, 4);
    DiskBlockHeader d;
    if (DecodeDiskHeader(reinterpret_cast<const uint8_t*>(h.data()), h.size(), &d).ok()) {
      ++accepted;
      EXPECT_EQ(d.payload_bytes, d.geometry.block_bytes());
      EXPECT_GT(d.payload_bytes, 0);
    }
  }
  EXPECT_GT(accepted, 1000);
}

TEST(DiskFormat, FileNames) {
  const BlockHash h = SampleHeader().hash;
  BlockHash back;
  ASSERT_TRUE(ParseDiskFileName(DiskFileName(h), &back));
  EXPECT_EQ(back, h);
  EXPECT_FALSE(ParseDiskFileName(DiskFileName(h) + ".tmp", &back));
  EXPECT_FALSE(ParseDiskFileName("../" + DiskFileName(h), &back));
  EXPECT_FALSE(ParseDiskFileName("x.kvb", &back));
}

}  // namespace
}  // namespace cachet::prefix_cache
