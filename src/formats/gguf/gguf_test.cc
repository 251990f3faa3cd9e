// Tests for the GGUF reader and writer. Corrupt files are built byte by byte with RawFile (not with
// the Writer) so the expected layout comes from the spec, not from the code under test.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "formats/gguf/gguf_reader.h"
#include "formats/gguf/gguf_writer.h"

namespace cachet::gguf {
namespace {

class RawFile {
 public:
  RawFile& U8(uint8_t v) { return Put(v); }
  RawFile& U32(uint32_t v) { return Put(v); }
  RawFile& I64(int64_t v) { return Put(v); }
  RawFile& U64(uint64_t v) { return Put(v); }
  RawFile& F32(float v) { return Put(v); }
  RawFile& Str(std::string_view s) {
    U64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  RawFile& Header(int64_t n_tensors, int64_t n_kv, uint32_t version = 3) {
    return U32(0x46554747).U32(version).I64(n_tensors).I64(n_kv);
  }
  RawFile& PadTo(size_t a) {
    while (b.size() % a != 0) b.push_back(0);
    return *this;
  }
  RawFile& Zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
  // A tensor-info record.
  RawFile& Tensor(std::string_view name, std::vector<int64_t> ne, uint32_t type, uint64_t off) {
    Str(name).U32(static_cast<uint32_t>(ne.size()));
    for (int64_t n : ne) I64(n);
    return U32(type).U64(off);
  }
  Result<File> Parse() const { return File::FromBytes(b.data(), b.size()); }
  std::vector<uint8_t> b;

 private:
  template <typename T>
  RawFile& Put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
    return *this;
  }
};

void ExpectError(const Result<File>& r, StatusCode code, std::string_view needle) {
  ASSERT_FALSE(r.ok()) << "expected an error mentioning " << needle;
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().ToString();
}

TEST(GgufReader, ParsesHandBuiltFile) {
  RawFile f;
  f.Header(2, 2).Str("general.architecture").U32(8).Str("llama");
  f.Str("llama.block_count").U32(4).U32(7);
  f.Tensor("a", {4, 2}, 0, 0).Tensor("b", {32}, 8, 32).PadTo(32);
  const size_t data_start = f.b.size();
  for (int i = 0; i < 8; ++i) f.F32(static_cast<float>(i));
  f.Zeros(34);
  Result<File> r = f.Parse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->version(), 3u);
  EXPECT_EQ(r->architecture(), "llama");
  EXPECT_EQ(*r->GetU32("llama.block_count"), 7u);
  EXPECT_EQ(r->data_start(), data_start);
  ASSERT_EQ(r->tensors().size(), 2u);
  const TensorInfo* a = r->FindTensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->n_dims, 2);
  EXPECT_EQ(a->ne[0], 4);
  EXPECT_EQ(a->ne[1], 2);
  EXPECT_EQ(a->ne[2], 1);
  EXPECT_EQ(a->n_bytes, 32u);
  EXPECT_EQ(a->data, f.b.data() + data_start);
  float x;
  std::memcpy(&x, a->data + 5 * 4, 4);
  EXPECT_EQ(x, 5.0f);
  const TensorInfo* b = r->FindTensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, DType::kQ8_0);
  EXPECT_EQ(b->n_bytes, 34u);
  EXPECT_EQ(b->data, f.b.data() + data_start + 32);
  EXPECT_EQ(r->FindTensor("c"), nullptr);
}

TEST(GgufRoundTrip, EveryValueType) {
  Writer w;
  w.SetU8("u8", 200);
  w.SetI8("i8", -100);
  w.SetU16("u16", 60000);
  w.SetI16("i16", -30000);
  w.SetU32("u32", 4000000000u);
  w.SetI32("i32", -2000000000);
  w.SetU64("u64", 1ull << 40);
  w.SetI64("i64", -(1ll << 40));
  w.SetF32("f32", 1.5f);
  w.SetF64("f64", 0.125);
  w.SetBool("bool", true);
  w.SetString("str", "héllo");
  w.SetString("empty", "");
  w.SetStringArray("sa", {"a", "", "ccc"});
  w.SetI32Array("ia", {1, -2, 3});
  w.SetU32Array("ua", {7, 8});
  w.SetI64Array("la", {-5});
  w.SetF32Array("fa", {0.5f, -1.0f});
  w.SetF64Array("da", {2.5});
  w.SetBoolArray("ba", {true, false});
  w.SetU8Array("u8a", {});
  w.SetU32("u32", 4000000001u);  // replacing keeps one entry
  Result<std::string> bytes = w.WriteToString();
  ASSERT_TRUE(bytes.ok());
  auto r = File::FromBytes(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->values().size(), 21u);
  EXPECT_EQ(r->Find("u8")->type(), ValueType::kU8);
  EXPECT_EQ(*r->GetU32("u8"), 200u);
  EXPECT_EQ(*r->GetI64("i8"), -100);
  EXPECT_EQ(*r->GetU32("u16"), 60000u);
  EXPECT_EQ(*r->GetI64("i16"), -30000);
  EXPECT_EQ(*r->GetU32("u32"), 4000000001u);
  EXPECT_EQ(*r->GetI64("i32"), -2000000000);
  EXPECT_EQ(*r->GetU64("u64"), 1ull << 40);
  EXPECT_EQ(*r->GetI64("i64"), -(1ll << 40));
  EXPECT_EQ(*r->GetF32("f32"), 1.5f);
  EXPECT_EQ(*r->GetF32("f64"), 0.125f);
  EXPECT_EQ(*r->GetBool("bool"), true);
  EXPECT_EQ(*r->GetString("str"), "héllo");
  EXPECT_EQ(*r->GetString("empty"), "");
  EXPECT_EQ(*r->GetStringArray("sa"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(*r->GetI32Array("ia"), (std::vector<int32_t>{1, -2, 3}));
  EXPECT_EQ(*r->GetI32Array("ua"), (std::vector<int32_t>{7, 8}));
  EXPECT_EQ(*r->GetI64Array("la"), (std::vector<int64_t>{-5}));
  EXPECT_EQ(*r->GetF32Array("fa"), (std::vector<float>{0.5f, -1.0f}));
  EXPECT_EQ(*r->GetF32Array("da"), (std::vector<float>{2.5f}));
  EXPECT_EQ(r->Find("ba")->ArrayType(), ValueType::kBool);
  EXPECT_EQ(r->Find("ba")->ArraySize(), 2u);
  EXPECT_EQ(r->Find("u8a")->ArraySize(), 0u);
  EXPECT_TRUE(r->GetI32Array("u8a")->empty());
}

TEST(GgufRoundTrip, TensorsAlignedAndIntact) {
  Writer w;
  w.SetAlignment(64);
  w.SetString("general.architecture", "test");
  std::vector<uint8_t> f32(3 * 5 * 4), f16(64 * 2), q8(2 * 34 * 3), q4k(144 * 2), bf(8 * 2);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<uint8_t>(i);
  for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<uint8_t>(i * 7);
  for (size_t i = 0; i < q4k.size(); ++i) q4k[i] = static_cast<uint8_t>(i * 3 + 1);
  ASSERT_TRUE(w.AddTensor("f32", DType::kF32, {3, 5}, f32).ok());
  ASSERT_TRUE(w.AddTensor("f16", DType::kF16, {64}, f16).ok());
  ASSERT_TRUE(w.AddTensor("q8", DType::kQ8_0, {64, 3}, q8).ok());
  ASSERT_TRUE(w.AddTensor("q4k", DType::kQ4_K, {256, 1, 2, 1}, q4k).ok());
  ASSERT_TRUE(w.AddTensor("bf16", DType::kBF16, {2, 2, 2}, bf).ok());
  const std::string path = ::testing::TempDir() + "/gguf_roundtrip.gguf";
  ASSERT_TRUE(w.WriteFile(path).ok());
  EXPECT_FALSE(Env::Default()->FileExists(path + ".tmp"));
  Result<File> r = File::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->alignment(), 64u);
  EXPECT_EQ(r->data_start() % 64, 0u);
  ASSERT_EQ(r->tensors().size(), 5u);
  EXPECT_EQ(r->tensors()[2].name, "q8");
  const TensorInfo* q = r->FindTensor("q8");
  EXPECT_EQ(q->type, DType::kQ8_0);
  EXPECT_EQ(q->n_elements(), 192);
  EXPECT_EQ(q->n_bytes, q8.size());
  EXPECT_EQ(std::vector<uint8_t>(q->data, q->data + q->n_bytes), q8);
  const TensorInfo* k = r->FindTensor("q4k");
  EXPECT_EQ(k->n_dims, 4);
  EXPECT_EQ(k->ne[2], 2);
  EXPECT_EQ(std::vector<uint8_t>(k->data, k->data + k->n_bytes), q4k);
  const TensorInfo* a = r->FindTensor("f32");
  EXPECT_EQ(std::vector<uint8_t>(a->data, a->data + a->n_bytes), f32);
  for (const TensorInfo& t : r->tensors()) {
    EXPECT_EQ(t.offset % 64, 0u) << t.name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 64, 0u) << t.name;  // mmap is page-aligned
  }
  File moved = std::move(*r);  // pointers stay valid across moves
  EXPECT_EQ(moved.FindTensor("q8")->data[1], q8[1]);
}

TEST(GgufWriter, RejectsBadTensors) {
  Writer w;
  EXPECT_EQ(w.AddTensor("x", DType::kF32, {2}, std::vector<uint8_t>(7)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("x", DType::kQ8_0, {16}, std::vector<uint8_t>(17)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("x", DType::kF32, {}, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("x", DType::kF32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("x", DType::kF32, {0}, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(w.AddTensor("x", DType::kF32, {1}, std::vector<uint8_t>(4)).ok());
  EXPECT_EQ(w.AddTensor("x", DType::kF32, {1}, std::vector<uint8_t>(4)).code(),
            StatusCode::kAlreadyExists);
  w.SetAlignment(48);
  EXPECT_EQ(w.WriteToString().status().code(), StatusCode::kInvalidArgument);
}

// A valid file whose last tensor ends exactly at end of file (no trailing padding), so that every
// proper prefix is invalid.
std::vector<uint8_t> SmallValidFile() {
  Writer w;
  w.SetString("general.architecture", "llama");
  w.SetU32("llama.block_count", 2);
  w.SetF32("eps", 1e-5f);
  w.SetStringArray("tokenizer.ggml.tokens", {"a", "bc"});
  w.SetI32Array("tokenizer.ggml.token_type", {1, 3});
  w.SetBool("flag", false);
  EXPECT_TRUE(w.AddTensor("t0", DType::kQ8_0, {32}, std::vector<uint8_t>(34, 1)).ok());
  EXPECT_TRUE(w.AddTensor("t1", DType::kF32, {8}, std::vector<uint8_t>(32, 2)).ok());
  Result<std::string> s = w.WriteToString();
  return std::vector<uint8_t>(s->begin(), s->end());
}

TEST(GgufReader, TruncationAtEveryOffsetIsAnError) {
  const std::vector<uint8_t> full = SmallValidFile();
  ASSERT_TRUE(File::FromBytes(full.data(), full.size()).ok());
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> prefix(full.begin(), full.begin() + n);  // exact size: ASan sees overreads
    Result<File> r = File::FromBytes(prefix.data(), prefix.size());
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt) << n << ": " << r.status().ToString();
  }
}

TEST(GgufReader, RejectsBadMagicAndVersions) {
  RawFile bad;
  bad.U32(0x46554748).U32(3).I64(0).I64(0);
  ExpectError(bad.Parse(), StatusCode::kCorrupt, "magic");
  RawFile v1;
  v1.Header(0, 0, 1);
  ExpectError(v1.Parse(), StatusCode::kUnsupported, "version");
  RawFile be;
  be.Header(0, 0, 0x03000000);
  ExpectError(be.Parse(), StatusCode::kUnsupported, "big-endian");
  RawFile v2;
  v2.Header(0, 0, 2);
  EXPECT_TRUE(v2.Parse().ok());
}

TEST(GgufReader, RejectsBadCounts) {
  RawFile neg;
  neg.Header(-1, 0);
  ExpectError(neg.Parse(), StatusCode::kCorrupt, "n_tensors");
  RawFile huge;
  huge.Header(0, int64_t{1} << 40);
  ExpectError(huge.Parse(), StatusCode::kCorrupt, "n_kv");
}

TEST(GgufReader, RejectsHugeStringAndArrayLengths) {
  RawFile s;
  s.Header(0, 1).Str("k").U32(8).U64(uint64_t{1} << 40).Zeros(16);
  ExpectError(s.Parse(), StatusCode::kCorrupt, "kv 'k'");
  RawFile key;
  key.Header(0, 1).U64(~uint64_t{0}).Zeros(16);
  ExpectError(key.Parse(), StatusCode::kCorrupt, "kv 0 key");
  RawFile a;
  a.Header(0, 1).Str("arr").U32(9).U32(4).U64(uint64_t{1} << 29).Zeros(16);
  ExpectError(a.Parse(), StatusCode::kCorrupt, "kv 'arr' array data");
  RawFile cap;
  cap.Header(0, 1).Str("arr").U32(9).U32(8).U64(uint64_t{1} << 31).Zeros(16);
  ExpectError(cap.Parse(), StatusCode::kCorrupt, "2^30");
  RawFile nested;
  nested.Header(0, 1).Str("arr").U32(9).U32(9).U64(1).Zeros(16);
  ExpectError(nested.Parse(), StatusCode::kCorrupt, "nested");
}

TEST(GgufReader, RejectsBadValueTypesAndDuplicateKeys) {
  RawFile t;
  t.Header(0, 1).Str("k").U32(13).U32(0);
  ExpectError(t.Parse(), StatusCode::kCorrupt, "kv 'k': unknown value type 13");
  RawFile dup;
  dup.Header(0, 2).Str("k").U32(4).U32(1).Str("k").U32(4).U32(2);
  ExpectError(dup.Parse(), StatusCode::kCorrupt, "kv 'k': duplicate key");
  RawFile empty;
  empty.Header(0, 1).Str("").U32(4).U32(1);
  ExpectError(empty.Parse(), StatusCode::kCorrupt, "empty key");
}

// One tensor-info record followed by `data_bytes` of data.
RawFile OneTensor(std::vector<int64_t> ne, uint32_t type, uint64_t off, size_t data_bytes,
                  std::string_view name = "blk.3.attn_q.weight") {
  RawFile f;
  f.Header(1, 0).Tensor(name, std::move(ne), type, off).PadTo(32).Zeros(data_bytes);
  return f;
}

TEST(GgufReader, RejectsBadTensorInfos) {
  ASSERT_TRUE(OneTensor({4}, 0, 0, 16).Parse().ok());  // the base case is valid
  ExpectError(OneTensor({4}, 0, 0, 15).Parse(), StatusCode::kCorrupt,
              "tensor 'blk.3.attn_q.weight': data [0..16) past end of file");
  ExpectError(OneTensor({4}, 0, 1ull << 62, 16).Parse(), StatusCode::kCorrupt, "past end of file");
  ExpectError(OneTensor({4}, 0, ~0ull - 31, 16).Parse(), StatusCode::kCorrupt, "past end");
  ExpectError(OneTensor({4}, 0, 8, 64).Parse(), StatusCode::kCorrupt,
              "offset 8 is not a multiple of the alignment 32");
  ExpectError(OneTensor({4}, 99, 0, 64).Parse(), StatusCode::kCorrupt,
              "'blk.3.attn_q.weight': unknown tensor type id 99");
  ExpectError(OneTensor({48}, 8, 0, 64).Parse(), StatusCode::kCorrupt,
              "ne[0] 48 is not a multiple of q8_0 block size 32");
  ExpectError(OneTensor({}, 0, 0, 64).Parse(), StatusCode::kCorrupt, "n_dims 0");
  ExpectError(OneTensor({1, 1, 1, 1, 1}, 0, 0, 64).Parse(), StatusCode::kCorrupt, "n_dims 5");
  ExpectError(OneTensor({4, 0}, 0, 0, 64).Parse(), StatusCode::kCorrupt, "ne[1]: 0 is not");
  ExpectError(OneTensor({4, -2}, 0, 0, 64).Parse(), StatusCode::kCorrupt, "ne[1]: -2");
  ExpectError(OneTensor({1ll << 32, 1ll << 32}, 0, 0, 64).Parse(), StatusCode::kCorrupt,
              "element count overflows");
  ExpectError(OneTensor({1ll << 31, 1ll << 31}, 0, 0, 64).Parse(), StatusCode::kCorrupt,
              "byte size overflows");
}

TEST(GgufReader, ValidTensorBaseCase) {
  Result<File> r = OneTensor({4}, 0, 0, 16).Parse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tensors()[0].n_bytes, 16u);
}

TEST(GgufReader, RejectsDuplicateAndOverlappingTensors) {
  RawFile dup;
  dup.Header(2, 0).Tensor("w", {4}, 0, 0).Tensor("w", {4}, 0, 32).PadTo(32).Zeros(64);
  ExpectError(dup.Parse(), StatusCode::kCorrupt, "tensor 'w': duplicate tensor name");
  RawFile overlap;
  overlap.Header(2, 0).Tensor("a", {16}, 0, 0).Tensor("b", {4}, 0, 32).PadTo(32).Zeros(64);
  ExpectError(overlap.Parse(), StatusCode::kCorrupt, "tensor 'b': data at offset 32 overlaps");
  RawFile touching;  // back to back is fine
  touching.Header(2, 0).Tensor("a", {8}, 0, 0).Tensor("b", {4}, 0, 32).PadTo(32).Zeros(64);
  EXPECT_TRUE(touching.Parse().ok());
}

TEST(GgufReader, AlignmentKey) {
  RawFile bad;
  bad.Header(0, 1).Str("general.alignment").U32(4).U32(48);
  ExpectError(bad.Parse(), StatusCode::kCorrupt, "general.alignment: 48");
  RawFile zero;
  zero.Header(0, 1).Str("general.alignment").U32(4).U32(0);
  ExpectError(zero.Parse(), StatusCode::kCorrupt, "general.alignment");
  RawFile s;
  s.Header(0, 1).Str("general.alignment").U32(8).Str("x");
  ExpectError(s.Parse(), StatusCode::kCorrupt, "general.alignment");
  RawFile ok16;  // u16-typed alignment 16: a tensor at offset 16 is aligned
  ok16.Header(1, 1).Str("general.alignment").U32(2);
  ok16.b.push_back(16);
  ok16.b.push_back(0);
  ok16.Tensor("t", {4}, 0, 16).PadTo(16).Zeros(32);
  Result<File> r = ok16.Parse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->alignment(), 16u);
}

TEST(GgufReader, SplitFilesAreUnsupported) {
  RawFile f;
  f.Header(0, 2).Str("split.no").U32(2);
  f.b.push_back(0);
  f.b.push_back(0);
  f.Str("split.count").U32(2);
  f.b.push_back(3);
  f.b.push_back(0);
  ExpectError(f.Parse(), StatusCode::kUnsupported, "split.count");
  RawFile one;
  one.Header(0, 1).Str("split.count").U32(4).U32(1);
  EXPECT_TRUE(one.Parse().ok());
}

TEST(GgufGetters, AcceptIntegerVariantsAndReportErrors) {
  RawFile f;
  f.Header(0, 7);
  f.Str("u8").U32(0).U8(12);
  f.Str("i32").U32(5).U32(static_cast<uint32_t>(-3));
  f.Str("u64big").U32(10).U64(uint64_t{1} << 40);
  f.Str("name").U32(8).Str("x");
  f.Str("f64").U32(12);
  const double d = 0.25;
  uint64_t d_bits;
  std::memcpy(&d_bits, &d, 8);
  f.U64(d_bits);
  f.Str("u32arr").U32(9).U32(4).U64(2).U32(5).U32(6);
  f.Str("bigarr").U32(9).U32(10).U64(1).U64(uint64_t{1} << 33);
  Result<File> r = f.Parse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r->GetU32("u8"), 12u);
  EXPECT_EQ(*r->GetI64("u8"), 12);
  EXPECT_EQ(*r->GetF32("u8"), 12.0f);
  EXPECT_EQ(*r->GetI64("i32"), -3);
  EXPECT_EQ(*r->GetF32("f64"), 0.25f);
  EXPECT_EQ(*r->GetI32Array("u32arr"), (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(*r->GetF32Array("u32arr"), (std::vector<float>{5.0f, 6.0f}));

  auto neg = r->GetU32("i32");
  EXPECT_EQ(neg.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(neg.status().message().find("i32"), std::string::npos);
  auto big = r->GetU32("u64big");
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("u64big"), std::string::npos);
  EXPECT_EQ(r->GetI32Array("bigarr").status().code(), StatusCode::kInvalidArgument);

  auto missing = r->GetU32("llama.block_count");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("llama.block_count"), std::string::npos);
  auto wrong = r->GetString("u8");
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("'u8': has type u8, expected string"), std::string::npos);
  EXPECT_EQ(r->GetU32("name").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r->GetBool("u8").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r->GetStringArray("u32arr").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r->GetI32Array("name").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r->architecture(), "");
}

// The fuzz seed was written by an independent Python encoder of gguf.md; check what it holds.
TEST(GgufReader, ReadsCheckedInSeedFile) {
  const char* env = std::getenv("CACHET_SOURCE_DIR");
  const std::string root = env != nullptr ? env : CACHET_GGUF_SOURCE_DIR;
  Result<File> r = File::Open(root + "/src/formats/gguf/fuzz_corpus/small.gguf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->architecture(), "llama");
  EXPECT_EQ(*r->GetU32("llama.block_count"), 2u);
  EXPECT_EQ(*r->GetF32("eps"), 1e-5f);
  EXPECT_EQ(*r->GetStringArray("toks"), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(*r->GetI32Array("types"), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(*r->GetBool("flag"), true);
  EXPECT_EQ(r->file_size(), 448u);
  const TensorInfo* t0 = r->FindTensor("t0");
  ASSERT_NE(t0, nullptr);
  EXPECT_EQ(t0->type, DType::kQ8_0);
  EXPECT_EQ(t0->data[33], 33);
  const TensorInfo* t1 = r->FindTensor("t1");
  ASSERT_NE(t1, nullptr);
  EXPECT_EQ(t1->n_elements(), 8);
  float last;
  std::memcpy(&last, t1->data + 28, 4);
  EXPECT_EQ(last, 7.0f);
  EXPECT_EQ(t1->data + t1->n_bytes, t0->data + 448 - r->data_start());  // ends at end of file
}

TEST(GgufReader, OpenMissingFileFails) {
  Result<File> r = File::Open(::testing::TempDir() + "/does-not-exist.gguf");
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace cachet::gguf
