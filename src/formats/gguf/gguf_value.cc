// Value conversions and File's typed getters (gguf.md §2 "type discipline": accept every integer
// width for integer keys and f32/f64 for float keys, converting on read with range checks).
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "formats/gguf/gguf_reader.h"

namespace cachet::gguf {
namespace {

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

bool IsInteger(ValueType t) {
  switch (t) {
    case ValueType::kU8:
    case ValueType::kI8:
    case ValueType::kU16:
    case ValueType::kI16:
    case ValueType::kU32:
    case ValueType::kI32:
    case ValueType::kU64:
    case ValueType::kI64:
      return true;
    default:
      return false;
  }
}

bool IsSigned(ValueType t) {
  return t == ValueType::kI8 || t == ValueType::kI16 || t == ValueType::kI32 ||
         t == ValueType::kI64;
}

// Integer at p of type t, widened: signed types into *s, unsigned into *u.
void LoadInt(ValueType t, const uint8_t* p, int64_t* s, uint64_t* u) {
  switch (t) {
    case ValueType::kU8:
      *u = Load<uint8_t>(p);
      break;
    case ValueType::kI8:
      *s = Load<int8_t>(p);
      break;
    case ValueType::kU16:
      *u = Load<uint16_t>(p);
      break;
    case ValueType::kI16:
      *s = Load<int16_t>(p);
      break;
    case ValueType::kU32:
      *u = Load<uint32_t>(p);
      break;
    case ValueType::kI32:
      *s = Load<int32_t>(p);
      break;
    case ValueType::kU64:
      *u = Load<uint64_t>(p);
      break;
    default:
      *s = Load<int64_t>(p);
      break;
  }
}

uint64_t ElemSize(ValueType t) {
  switch (t) {
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
    default:
      return 8;
  }
}

Status TypeError(const std::string& key, ValueType have, std::string_view want) {
  return InvalidArgument("key '" + key + "': has type " + ValueTypeName(have) + ", expected " +
                         std::string(want));
}

Result<int64_t> ToI64(const std::string& key, ValueType t, const uint8_t* p) {
  if (!IsInteger(t)) return TypeError(key, t, "an integer");
  int64_t s = 0;
  uint64_t u = 0;
  LoadInt(t, p, &s, &u);
  if (IsSigned(t)) return s;
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgument("key '" + key + "': value " + std::to_string(u) + " exceeds int64");
  }
  return static_cast<int64_t>(u);
}

Result<uint64_t> ToU64(const std::string& key, ValueType t, const uint8_t* p) {
  if (!IsInteger(t)) return TypeError(key, t, "an integer");
  int64_t s = 0;
  uint64_t u = 0;
  LoadInt(t, p, &s, &u);
  if (!IsSigned(t)) return u;
  if (s < 0) return InvalidArgument("key '" + key + "': value " + std::to_string(s) + " < 0");
  return static_cast<uint64_t>(s);
}

Result<double> ToF64(const std::string& key, ValueType t, const uint8_t* p) {
  if (t == ValueType::kF32) return static_cast<double>(Load<float>(p));
  if (t == ValueType::kF64) return Load<double>(p);
  if (!IsInteger(t)) return TypeError(key, t, "a number");
  int64_t s = 0;
  uint64_t u = 0;
  LoadInt(t, p, &s, &u);
  return IsSigned(t) ? static_cast<double>(s) : static_cast<double>(u);
}

}  // namespace

std::string ValueTypeName(ValueType t) {
  static const char* const kNames[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                       "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  if (i < 13) return kNames[i];
  return "type#" + std::to_string(i);
}

Result<uint64_t> Value::AsU64() const { return ToU64(key_, type_, p_); }
Result<int64_t> Value::AsI64() const { return ToI64(key_, type_, p_); }
Result<double> Value::AsF64() const { return ToF64(key_, type_, p_); }

Result<bool> Value::AsBool() const {
  if (type_ != ValueType::kBool) return TypeError(key_, type_, "bool");
  return p_[0] != 0;
}

Result<std::string_view> Value::AsString() const {
  if (type_ != ValueType::kString) return TypeError(key_, type_, "string");
  return std::string_view(reinterpret_cast<const char*>(p_), n_bytes_);
}

Result<int64_t> Value::ArrayI64(uint64_t i) const {
  if (type_ != ValueType::kArray || array_type_ == ValueType::kString) {
    return TypeError(key_, type_, "an integer array");
  }
  if (i >= array_size_) return OutOfRange("key '" + key_ + "': index " + std::to_string(i));
  return ToI64(key_ + "[" + std::to_string(i) + "]", array_type_, p_ + i * ElemSize(array_type_));
}

Result<double> Value::ArrayF64(uint64_t i) const {
  if (type_ != ValueType::kArray || array_type_ == ValueType::kString) {
    return TypeError(key_, type_, "a numeric array");
  }
  if (i >= array_size_) return OutOfRange("key '" + key_ + "': index " + std::to_string(i));
  return ToF64(key_ + "[" + std::to_string(i) + "]", array_type_, p_ + i * ElemSize(array_type_));
}

Result<std::vector<int64_t>> Value::ArrayI64s() const {
  std::vector<int64_t> out;
  if (type_ != ValueType::kArray) return TypeError(key_, type_, "an integer array");
  out.reserve(array_size_);
  for (uint64_t i = 0; i < array_size_; ++i) {
    CACHET_ASSIGN_OR_RETURN(int64_t v, ArrayI64(i));
    out.push_back(v);
  }
  return out;
}

Result<std::vector<double>> Value::ArrayF64s() const {
  std::vector<double> out;
  if (type_ != ValueType::kArray) return TypeError(key_, type_, "a numeric array");
  out.reserve(array_size_);
  for (uint64_t i = 0; i < array_size_; ++i) {
    CACHET_ASSIGN_OR_RETURN(double v, ArrayF64(i));
    out.push_back(v);
  }
  return out;
}

Result<std::vector<std::string_view>> Value::ArrayStrings() const {
  if (type_ != ValueType::kArray || array_type_ != ValueType::kString) {
    return TypeError(key_, type_ == ValueType::kArray ? array_type_ : type_, "a string array");
  }
  // Lengths were validated against n_bytes_ when the file was opened; re-check cheaply anyway.
  std::vector<std::string_view> out;
  out.reserve(array_size_);
  size_t pos = 0;
  for (uint64_t i = 0; i < array_size_; ++i) {
    if (n_bytes_ - pos < 8) return Corrupt("key '" + key_ + "': string array truncated");
    const uint64_t n = Load<uint64_t>(p_ + pos);
    pos += 8;
    if (n > n_bytes_ - pos) return Corrupt("key '" + key_ + "': string array truncated");
    out.emplace_back(reinterpret_cast<const char*>(p_ + pos), n);
    pos += n;
  }
  return out;
}

// ---- File getters ---------------------------------------------------------------------------

const Value* File::Find(std::string_view key) const {
  auto it = value_index_.find(key);
  return it == value_index_.end() ? nullptr : &values_[it->second];
}

const TensorInfo* File::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::string File::architecture() const {
  const Value* v = Find("general.architecture");
  if (v == nullptr) return "";
  Result<std::string_view> s = v->AsString();
  return s.ok() ? std::string(*s) : std::string();
}

namespace {
Result<const Value*> Need(const File& f, std::string_view key) {
  const Value* v = f.Find(key);
  if (v == nullptr) return NotFound("key '" + std::string(key) + "' not found");
  return v;
}
}  // namespace

Result<std::string> File::GetString(std::string_view key) const {
  CACHET_ASSIGN_OR_RETURN(const Value* v, Need(*this, key));
  CACHET_ASSIGN_OR_RETURN(std::string_view s, v->AsString());
  return std::string(s);
}

Result<uint64_t> File::GetU64(std::string_view key) const {
  CACHET_ASSIGN_OR_RETURN(const Value* v, Need(*this, key));
  return v->AsU64();
}

Result<uint32_t> File::GetU32(std::string_view key) const {
  CACHET_ASSIGN_OR_RETURN(uint64_t u, GetU64(key));
  if (u > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgument("key '" + std::string(key) + "': value " + std::to_string(u) +
                           " exceeds u32");
  }
  return static_cast<uint32_t>(u);
}

Result<int64_t> File::GetI64(std::string_view key) const {
  CACHET_ASSIGN_OR_RETURN(const Value* v, Need(*this, key));
  return v->AsI64();
}

Result<float> File::GetF32(std::string_view key) const {
  CACHET_ASSIGN_OR_RETURN(const Value* v, Need(*this, key));
  CACHET_ASSIGN_OR_RETURN(double d, v->AsF64());
  return static_cast<float>(d);
}

Result<bool> File::GetBool(std::string_view key) const {
  CACHET_ASSIGN_OR_RETURN(const Value* v, Need(*this, key));
  return v->AsBool();
}

Result<std::vector<std::string>> File::GetStringArray(std::string_view key) const {
  CACHET_ASSIGN_OR_RETURN(const Value* v, Need(*this, key));
  CACHET_ASSIGN_OR_RETURN(std::vector<std::string_view> views, v->ArrayStrings());
  return std::vector<std::string>(views.begin(), views.end());
}

Result<std::vector<int64_t>> File::GetI64Array(std::string_view key) const {
  CACHET_ASSIGN_OR_RETURN(const Value* v, Need(*this, key));
  return v->ArrayI64s();
}

Result<std::vector<int32_t>> File::GetI32Array(std::string_view key) const {
  CACHET_ASSIGN_OR_RETURN(std::vector<int64_t> wide, GetI64Array(key));
  std::vector<int32_t> out;
  out.reserve(wide.size());
  for (size_t i = 0; i < wide.size(); ++i) {
    if (wide[i] < std::numeric_limits<int32_t>::min() ||
        wide[i] > std::numeric_limits<int32_t>::max()) {
      return InvalidArgument("key '" + std::string(key) + "'[" + std::to_string(i) + "]: value " +
                             std::to_string(wide[i]) + " exceeds i32");
    }
    out.push_back(static_cast<int32_t>(wide[i]));
  }
  return out;
}

Result<std::vector<float>> File::GetF32Array(std::string_view key) const {
  CACHET_ASSIGN_OR_RETURN(const Value* v, Need(*this, key));
  CACHET_ASSIGN_OR_RETURN(std::vector<double> wide, v->ArrayF64s());
  return std::vector<float>(wide.begin(), wide.end());
}

}  // namespace cachet::gguf
