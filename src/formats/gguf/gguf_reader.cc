// Parsing and validation of a GGUF file (gguf.md §1-§4). Every read goes through Cursor, which
// checks the remaining bytes first, so no field can make the parser read outside the buffer.
#include "formats/gguf/gguf_reader.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace cachet::gguf {
namespace {

// Minimum encoded sizes, used to bound counts by the bytes left before allocating anything.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;                  // key len, 1-byte key, type, u8
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;  // name, n_dims, ne0, type, off
constexpr uint64_t kMaxAlignment = uint64_t{1} << 30;

// Byte size of a scalar value type, 0 for string/array/unknown ids.
uint64_t ScalarSize(uint32_t t) {
  switch (static_cast<ValueType>(t)) {
    case ValueType::kU8:
    case ValueType::kI8:
    case ValueType::kBool:
      return 1;
    case ValueType::kU16:
    case ValueType::kI16:
      return 2;
    case ValueType::kU32:
    case ValueType::kI32:
    case ValueType::kF32:
      return 4;
    case ValueType::kU64:
    case ValueType::kI64:
    case ValueType::kF64:
      return 8;
    default:
      return 0;
  }
}

class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  const uint8_t* here() const { return data_ + pos_; }

  Status Need(uint64_t n, const std::string& field) const {
    if (n > left()) {
      return Corrupt(field + ": needs " + std::to_string(n) + " bytes at offset " +
                     std::to_string(pos_) + ", past end of file (size " + std::to_string(size_) +
                     ")");
    }
    return Status::Ok();
  }
  Status Skip(uint64_t n, const std::string& field) {
    CACHET_RETURN_IF_ERROR(Need(n, field));
    pos_ += n;
    return Status::Ok();
  }
  template <typename T>
  Result<T> Read(const std::string& field) {
    CACHET_RETURN_IF_ERROR(Need(sizeof(T), field));
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  Result<std::string_view> ReadString(const std::string& field) {
    CACHET_ASSIGN_OR_RETURN(uint64_t n, Read<uint64_t>(field + " length"));
    if (n > kMaxStringLength) {
      return Corrupt(field + ": string length " + std::to_string(n) + " exceeds the limit 2^30");
    }
    CACHET_RETURN_IF_ERROR(Need(n, field));
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 128)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 128) out += "...";
  return out + "'";
}

}  // namespace

// Builds a File; a friend of File so it can fill the private tables.
class Parser {
 public:
  Parser(File* f, const uint8_t* data, size_t size) : f_(f), cur_(data, size), size_(size) {}

  Status Run() {
    CACHET_RETURN_IF_ERROR(Header());
    for (int64_t i = 0; i < n_kv_; ++i) CACHET_RETURN_IF_ERROR(Kv(i));
    CACHET_RETURN_IF_ERROR(Alignment());
    CACHET_RETURN_IF_ERROR(Split());
    for (int64_t i = 0; i < n_tensors_; ++i) CACHET_RETURN_IF_ERROR(TensorInfoRecord(i));
    return TensorData();
  }

 private:
  Status Header();
  Status Kv(int64_t i);
  Result<uint64_t> ValueBytes(uint32_t type, const std::string& field, ValueType* arr_type,
                              uint64_t* arr_n);
  Status Alignment();
  Status Split();
  Status TensorInfoRecord(int64_t i);
  Status TensorData();

  File* f_;
  Cursor cur_;
  size_t size_;
  int64_t n_tensors_ = 0;
  int64_t n_kv_ = 0;
};

Status Parser::Header() {
  if (size_ < 24) {
    return Corrupt("header: file has " + std::to_string(size_) + " bytes, a GGUF header needs 24");
  }
  CACHET_ASSIGN_OR_RETURN(uint32_t magic, cur_.Read<uint32_t>("magic"));
  if (magic != kMagic) return Corrupt("magic: not a GGUF file (first 4 bytes are not 'GGUF')");
  CACHET_ASSIGN_OR_RETURN(uint32_t version, cur_.Read<uint32_t>("version"));
  if ((version & 0xFFFF) == 0 && version != 0) {
    return Unsupported("version: big-endian GGUF files are not supported");
  }
  if (version != 2 && version != 3) {
    return Unsupported("version: " + std::to_string(version) + " is not supported (only 2 and 3)");
  }
  f_->version_ = version;
  CACHET_ASSIGN_OR_RETURN(n_tensors_, cur_.Read<int64_t>("n_tensors"));
  CACHET_ASSIGN_OR_RETURN(n_kv_, cur_.Read<int64_t>("n_kv"));
  if (n_tensors_ < 0 || static_cast<uint64_t>(n_tensors_) > cur_.left() / kMinTensorInfoBytes) {
    return Corrupt("n_tensors: " + std::to_string(n_tensors_) + " is negative or exceeds what " +
                   std::to_string(size_) + " bytes can hold");
  }
  if (n_kv_ < 0 || static_cast<uint64_t>(n_kv_) > cur_.left() / kMinKvBytes) {
    return Corrupt("n_kv: " + std::to_string(n_kv_) + " is negative or exceeds what " +
                   std::to_string(size_) + " bytes can hold");
  }
  f_->values_.reserve(n_kv_);
  f_->value_index_.reserve(n_kv_);
  f_->tensors_.reserve(n_tensors_);
  f_->tensor_index_.reserve(n_tensors_);
  return Status::Ok();
}

// Validates the encoded value at the cursor and returns its byte length (without moving).
Result<uint64_t> Parser::ValueBytes(uint32_t type, const std::string& field, ValueType* arr_type,
                                    uint64_t* arr_n) {
  if (uint64_t n = ScalarSize(type); n != 0) {
    CACHET_RETURN_IF_ERROR(cur_.Need(n, field));
    return n;
  }
  Cursor c = cur_;
  if (type == static_cast<uint32_t>(ValueType::kString)) {
    CACHET_ASSIGN_OR_RETURN(std::string_view s, c.ReadString(field));
    return s.size();  // caller skips the 8-byte length itself
  }
  if (type != static_cast<uint32_t>(ValueType::kArray)) {
    return Corrupt(field + ": unknown value type " + std::to_string(type));
  }
  CACHET_ASSIGN_OR_RETURN(uint32_t et, c.Read<uint32_t>(field + " element type"));
  CACHET_ASSIGN_OR_RETURN(uint64_t n, c.Read<uint64_t>(field + " array length"));
  if (n > kMaxArrayLength) {
    return Corrupt(field + ": array length " + std::to_string(n) + " exceeds the limit 2^30");
  }
  *arr_type = static_cast<ValueType>(et);
  *arr_n = n;
  if (uint64_t es = ScalarSize(et); es != 0) {
    CACHET_RETURN_IF_ERROR(c.Need(n * es, field + " array data"));
    return n * es;
  }
  if (et != static_cast<uint32_t>(ValueType::kString)) {
    return Corrupt(field + ": array element type " + std::to_string(et) +
                   (et == 9 ? " (nested arrays are not supported)" : " is unknown"));
  }
  if (n > c.left() / 8) return cur_.Need(n * 8 + 12, field + " array data");
  // Hot loop (vocabularies have ~10^5 strings): no allocation unless an element is bad.
  const uint8_t* p = c.here();
  const uint64_t avail = c.left();
  uint64_t pos = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t len = 0;
    if (avail - pos >= 8) std::memcpy(&len, p + pos, 8);
    if (avail - pos < 8 || len > kMaxStringLength || len > avail - pos - 8) {
      Cursor at = c;
      (void)at.Skip(pos, field);
      return at.ReadString(field + "[" + std::to_string(i) + "]").status();
    }
    pos += 8 + len;
  }
  return pos;
}

Status Parser::Kv(int64_t i) {
  const std::string where = "kv " + std::to_string(i);
  CACHET_ASSIGN_OR_RETURN(std::string_view key, cur_.ReadString(where + " key"));
  if (key.empty()) return Corrupt(where + ": empty key");
  const std::string field = "kv " + Quote(key);
  CACHET_ASSIGN_OR_RETURN(uint32_t type, cur_.Read<uint32_t>(field + " type"));
  ValueType arr_type = ValueType::kU8;
  uint64_t arr_n = 0;
  CACHET_ASSIGN_OR_RETURN(uint64_t n, ValueBytes(type, field, &arr_type, &arr_n));
  uint64_t prefix = 0;
  if (type == static_cast<uint32_t>(ValueType::kString)) prefix = 8;
  if (type == static_cast<uint32_t>(ValueType::kArray)) prefix = 12;
  CACHET_RETURN_IF_ERROR(cur_.Skip(prefix, field));
  const uint8_t* p = cur_.here();
  CACHET_RETURN_IF_ERROR(cur_.Skip(n, field));
  std::string k(key);
  if (f_->value_index_.count(k) != 0) return Corrupt(field + ": duplicate key");
  f_->value_index_.emplace(k, f_->values_.size());
  f_->values_.emplace_back(std::move(k), static_cast<ValueType>(type), p, n, arr_type, arr_n);
  return Status::Ok();
}

Status Parser::Alignment() {
  const Value* v = f_->Find("general.alignment");
  if (v == nullptr) return Status::Ok();
  Result<uint64_t> a = v->AsU64();
  if (!a.ok()) return Corrupt(a.status().message());
  if (*a == 0 || (*a & (*a - 1)) != 0 || *a > kMaxAlignment) {
    return Corrupt("general.alignment: " + std::to_string(*a) +
                   " is not a power of two in [1, 2^30]");
  }
  f_->alignment_ = *a;
  return Status::Ok();
}

Status Parser::Split() {
  const Value* v = f_->Find("split.count");
  if (v == nullptr) return Status::Ok();
  Result<uint64_t> n = v->AsU64();
  if (!n.ok()) return Corrupt(n.status().message());
  if (*n > 1) {
    return Unsupported("split.count: file is shard of a " + std::to_string(*n) +
                       "-part split model; merge the shards first (e.g. llama-gguf-split --merge)");
  }
  return Status::Ok();
}

Status Parser::TensorInfoRecord(int64_t i) {
  CACHET_ASSIGN_OR_RETURN(std::string_view name,
                          cur_.ReadString("tensor " + std::to_string(i) + " name"));
  const std::string field = "tensor " + Quote(name);
  TensorInfo t;
  t.name = std::string(name);
  CACHET_ASSIGN_OR_RETURN(uint32_t n_dims, cur_.Read<uint32_t>(field + " n_dims"));
  if (n_dims < 1 || n_dims > 4) {
    return Corrupt(field + ": n_dims " + std::to_string(n_dims) + " is not in 1..4");
  }
  t.n_dims = static_cast<int>(n_dims);
  int64_t n_el = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    const std::string f = field + " ne[" + std::to_string(d) + "]";
    CACHET_ASSIGN_OR_RETURN(t.ne[d], cur_.Read<int64_t>(f));
    if (t.ne[d] <= 0) return Corrupt(f + ": " + std::to_string(t.ne[d]) + " is not positive");
    if (__builtin_mul_overflow(n_el, t.ne[d], &n_el)) {
      return Corrupt(field + ": element count overflows int64");
    }
  }
  CACHET_ASSIGN_OR_RETURN(uint32_t type_id, cur_.Read<uint32_t>(field + " type"));
  std::optional<DTypeTraits> tr = GetDTypeTraits(type_id);
  if (!tr) return Corrupt(field + ": unknown tensor type id " + std::to_string(type_id));
  t.type = tr->type;
  if (t.ne[0] % tr->block_size != 0) {
    return Corrupt(field + ": ne[0] " + std::to_string(t.ne[0]) + " is not a multiple of " +
                   std::string(tr->name) + " block size " + std::to_string(tr->block_size));
  }
  int64_t nb = t.ne[0] / tr->block_size;
  if (__builtin_mul_overflow(nb, tr->block_bytes, &nb) ||
      __builtin_mul_overflow(nb, n_el / t.ne[0], &nb)) {
    return Corrupt(field + ": byte size overflows int64");
  }
  t.n_bytes = static_cast<uint64_t>(nb);
  CACHET_ASSIGN_OR_RETURN(t.offset, cur_.Read<uint64_t>(field + " offset"));
  if (f_->tensor_index_.count(t.name) != 0) return Corrupt(field + ": duplicate tensor name");
  f_->tensor_index_.emplace(t.name, f_->tensors_.size());
  f_->tensors_.push_back(std::move(t));
  return Status::Ok();
}

Status Parser::TensorData() {
  const uint64_t a = f_->alignment_;
  const uint64_t end_info = cur_.pos();
  const uint64_t data_start = (end_info + a - 1) / a * a;  // end_info <= size_ < 2^63
  f_->data_start_ = data_start;
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(f_->tensors_.size());
  for (TensorInfo& t : f_->tensors_) {
    const std::string field = "tensor " + Quote(t.name);
    if (t.offset % a != 0) {
      return Corrupt(field + ": offset " + std::to_string(t.offset) +
                     " is not a multiple of the alignment " + std::to_string(a));
    }
    uint64_t begin = 0, end = 0;
    if (__builtin_add_overflow(data_start, t.offset, &begin) ||
        __builtin_add_overflow(begin, t.n_bytes, &end) || end > size_) {
      return Corrupt(field + ": data [" + std::to_string(t.offset) + ".." +
                     std::to_string(t.offset + t.n_bytes) + ") past end of file (size " +
                     std::to_string(size_) + ", data section at " + std::to_string(data_start) +
                     ")");
    }
    t.data = cur_.here() - cur_.pos() + begin;
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* x, const TensorInfo* y) { return x->offset < y->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* p = by_offset[i - 1];
    if (p->offset + p->n_bytes > by_offset[i]->offset) {
      return Corrupt("tensor " + Quote(by_offset[i]->name) + ": data at offset " +
                     std::to_string(by_offset[i]->offset) + " overlaps tensor " + Quote(p->name));
    }
  }
  return Status::Ok();
}

Result<File> File::FromBytes(const uint8_t* data, size_t size) {
  File f;
  f.map_ = std::make_unique<MappedFile>(MappedFile::FromBuffer(data, size));
  Parser p(&f, f.map_->data(), f.map_->size());
  CACHET_RETURN_IF_ERROR(p.Run());
  return f;
}

Result<File> File::Open(const std::string& path, Env* env) {
  CACHET_ASSIGN_OR_RETURN(MappedFile m, env->MapFile(path));
  File f;
  f.map_ = std::make_unique<MappedFile>(std::move(m));
  Parser p(&f, f.map_->data(), f.map_->size());
  Status st = p.Run();
  if (!st.ok()) return st.WithContext(path);
  return f;
}

}  // namespace cachet::gguf
