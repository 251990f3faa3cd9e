// SHA-256 against FIPS 180-4 vectors and Python's hashlib; CRC-32C against RFC 3720 vectors and
// its portable implementation; chained block hashes.
#include "prefix_cache/sha256.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "prefix_cache/block_hash.h"
#include "prefix_cache/crc32c.h"

namespace cachet::prefix_cache {
namespace {

std::string Hex(const Digest256& d) { return BlockHash{d}.Hex(); }

TEST(Sha256, Fips180Vectors) {
  EXPECT_EQ(Hex(Sha256Of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256Of("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(Sha256Of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Hex(Sha256Of("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                         "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  Sha256 s;  // one million 'a', fed in uneven pieces to exercise the buffering
  const std::string chunk(999, 'a');
  size_t fed = 0;
  while (fed + chunk.size() <= 1000000) {
    s.Update(chunk);
    fed += chunk.size();
  }
  s.Update(std::string(1000000 - fed, 'a'));
  EXPECT_EQ(Hex(s.Final()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Python's hashlib as the independent reference, on random data of many lengths (the padding
// boundaries 55/56/64 included).
TEST(Sha256, MatchesPythonHashlib) {
  if (std::FILE* f = std::fopen("/usr/bin/python3", "rb")) {
    std::fclose(f);
  } else {
    GTEST_SKIP() << "/usr/bin/python3 not present";
  }
  std::mt19937 rng(7);
  std::vector<size_t> lens;
  for (size_t n = 0; n <= 200; ++n) lens.push_back(n);
  for (size_t n : {1000u, 4095u, 4096u, 65537u}) lens.push_back(n);
  std::string all;
  for (size_t n : lens) {
    for (size_t i = 0; i < n; ++i) all.push_back(static_cast<char>(rng() & 0xff));
  }
  char path[] = "/tmp/cachet_sha256_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::FILE* f = fdopen(fd, "wb");
  std::fwrite(all.data(), 1, all.size(), f);
  std::fclose(f);
  std::string cmd =
      "/usr/bin/python3 -c \"import hashlib,sys\nd=open(sys.argv[1],'rb').read()\n"
      "o=0\nfor n in map(int,sys.argv[2:]):\n print(hashlib.sha256(d[o:o+n])"
      ".hexdigest()); o+=n\" ";
  cmd += path;
  for (size_t n : lens) cmd += " " + std::to_string(n);
  std::FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[128];
  size_t off = 0, i = 0;
  while (std::fgets(line, sizeof line, p) != nullptr && i < lens.size()) {
    const std::string want(line, 64);
    Sha256 s;  // two pieces, to test Update boundaries too
    const size_t half = lens[i] / 3;
    s.Update(all.data() + off, half);
    s.Update(all.data() + off + half, lens[i] - half);
    EXPECT_EQ(Hex(s.Final()), want) << "length " << lens[i];
    off += lens[i];
    ++i;
  }
  pclose(p);
  std::remove(path);
  EXPECT_EQ(i, lens.size());
}

TEST(Crc32c, Rfc3720Vectors) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  std::vector<uint8_t> v(32, 0);
  EXPECT_EQ(Crc32c(v.data(), v.size()), 0x8A9136AAu);
  std::fill(v.begin(), v.end(), 0xff);
  EXPECT_EQ(Crc32c(v.data(), v.size()), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) v[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Crc32c(v.data(), v.size()), 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) v[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(Crc32c(v.data(), v.size()), 0x113FDB5Cu);
  EXPECT_EQ(Crc32cExtendPortable(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32c, HardwareMatchesPortableAndExtends) {
  std::mt19937 rng(3);
  std::vector<uint8_t> d(5000);
  for (auto& b : d) b = static_cast<uint8_t>(rng());
  for (size_t off : {0u, 1u, 3u, 7u}) {
    for (size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 4000u}) {
      EXPECT_EQ(Crc32c(d.data() + off, n), Crc32cExtendPortable(0, d.data() + off, n));
    }
  }
  const uint32_t whole = Crc32c(d.data(), d.size());
  EXPECT_EQ(Crc32cExtend(Crc32c(d.data(), 1234), d.data() + 1234, d.size() - 1234), whole);
}

TEST(BlockHash, ChainCoversModelSaltAndEveryToken) {
  std::vector<TokenId> t(kBlockTokens);
  for (int i = 0; i < kBlockTokens; ++i) t[i] = 1000 + i;
  const BlockHash r = ChainRoot("model-a", "salt-1");
  EXPECT_NE(r, ChainRoot("model-b", "salt-1"));
  EXPECT_NE(r, ChainRoot("model-a", "salt-2"));
  // Length prefixes: moving bytes between fingerprint and salt changes the root.
  EXPECT_NE(ChainRoot("ab", "c"), ChainRoot("a", "bc"));
  const BlockHash h0 = ChainNext(r, t);
  // h0 = SHA-256(root || tokens as int32 LE), checked against a direct computation.
  std::string bytes(reinterpret_cast<const char*>(r.bytes.data()), 32);
  for (TokenId x : t) {
    for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<char>((x >> (8 * k)) & 0xff));
  }
  EXPECT_EQ(h0.bytes, Sha256Of(bytes));
  t[63] += 1;
  EXPECT_NE(ChainNext(r, t), h0);
  BlockHash parsed;
  ASSERT_TRUE(ParseBlockHashHex(h0.Hex(), &parsed));
  EXPECT_EQ(parsed, h0);
  EXPECT_FALSE(ParseBlockHashHex(h0.Hex().substr(1), &parsed));
  EXPECT_FALSE(ParseBlockHashHex(std::string(64, 'g'), &parsed));
  EXPECT_NE(SaltFingerprint("a"), SaltFingerprint("b"));
}

}  // namespace
}  // namespace cachet::prefix_cache
