// GGUF reader: a validated, zero-copy view over a memory-mapped GGUF file (shared/specs/gguf.md).
//
// File::Open maps the file and parses only the header, the metadata records and the tensor-info
// table; tensor data is never copied or touched. Everything read from the file is bounds-checked
// before use: a truncated or corrupt file yields a Status (kCorrupt for structural damage,
// kUnsupported for valid-but-unsupported variants such as big-endian or split files) whose message
// names the field, never a crash.
//
// Thread-safety: a File is immutable after Open; const methods may be called from any thread.
// Pointers (Value*, TensorInfo::data, string_views) stay valid while the File lives (moving a File
// keeps them valid: the mapping does not move).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "tensor/dtype.h"

namespace cachet::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as u32 little-endian
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr uint64_t kMaxStringLength = uint64_t{1} << 30;
inline constexpr uint64_t kMaxArrayLength = uint64_t{1} << 30;

enum class ValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// "u32", "string", "array", ... ("type#N" for ids outside the table).
std::string ValueTypeName(ValueType t);

// One metadata value: a view into the mapped bytes, validated when the file was opened.
// Scalar accessors convert between numeric types when the value fits (any integer type to
// AsU64/AsI64 with range checks; any integer or float type to AsF64; AsBool accepts kBool only).
// Wrong type or out of range -> InvalidArgument naming the key and both types.
class Value {
 public:
  Value() = default;
  Value(std::string key, ValueType type, const uint8_t* p, size_t n_bytes, ValueType array_type,
        uint64_t array_size)
      : key_(std::move(key)),
        type_(type),
        p_(p),
        n_bytes_(n_bytes),
        array_type_(array_type),
        array_size_(array_size) {}

  const std::string& key() const { return key_; }
  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::kArray; }

  Result<uint64_t> AsU64() const;
  Result<int64_t> AsI64() const;
  Result<double> AsF64() const;
  Result<bool> AsBool() const;
  Result<std::string_view> AsString() const;

  // Arrays (InvalidArgument when not an array). ArrayType/ArraySize are meaningless otherwise.
  ValueType ArrayType() const { return array_type_; }
  uint64_t ArraySize() const { return array_size_; }
  // Numeric element i converted like the scalar accessors; OutOfRange when i >= ArraySize().
  Result<int64_t> ArrayI64(uint64_t i) const;
  Result<double> ArrayF64(uint64_t i) const;
  // All elements of a string array, in order (O(n) walk; views into the mapping).
  Result<std::vector<std::string_view>> ArrayStrings() const;
  // Whole numeric arrays, converted (InvalidArgument if an element does not fit).
  Result<std::vector<int64_t>> ArrayI64s() const;
  Result<std::vector<double>> ArrayF64s() const;

  // Raw payload: the scalar bytes, the string bytes, or the packed array elements.
  const uint8_t* raw() const { return p_; }
  size_t raw_size() const { return n_bytes_; }

 private:
  std::string key_;
  ValueType type_ = ValueType::kU8;
  const uint8_t* p_ = nullptr;  // scalar/str bytes or first array element
  size_t n_bytes_ = 0;
  ValueType array_type_ = ValueType::kU8;
  uint64_t array_size_ = 0;
};

struct TensorInfo {
  std::string name;
  DType type = DType::kF32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ne0 fastest; missing trailing dims are 1
  uint64_t offset = 0;           // bytes from the start of the data section
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // inside the mapping; aligned to the file's alignment
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class File {
 public:
  File() = default;
  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Maps and validates `path`. IoError/NotFound from the Env; kCorrupt naming the field for a
  // malformed file; kUnsupported for big-endian, version 1 and split (split.count > 1) files.
  static Result<File> Open(const std::string& path, Env* env = Env::Default());
  // Same over caller-owned bytes, which must outlive the File.
  static Result<File> FromBytes(const uint8_t* data, size_t size);

  uint32_t version() const { return version_; }
  size_t file_size() const { return map_ ? map_->size() : 0; }
  // True when [p, p + n) lies inside this File's read-only file mapping
  // (MappedFile::file_backed): its pages may be dropped and are read back from the file.
  bool Maps(const void* p, size_t n) const {
    if (!map_ || !map_->file_backed()) return false;
    const auto* b = static_cast<const uint8_t*>(p);
    return b >= map_->data() && n <= map_->size() &&
           static_cast<size_t>(b - map_->data()) <= map_->size() - n;
  }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_start() const { return data_start_; }
  // general.architecture, or "" when absent.
  std::string architecture() const;

  // O(1) average. nullptr when absent.
  const Value* Find(std::string_view key) const;
  const std::vector<Value>& values() const { return values_; }  // file order

  // Typed getters: NotFound naming the key when absent; InvalidArgument naming key and types on a
  // type mismatch or a value out of the target's range. Integer getters accept every integer
  // type; GetF32 accepts f32/f64 and integers; arrays accept any integer (resp. numeric) element.
  Result<std::string> GetString(std::string_view key) const;
  Result<uint32_t> GetU32(std::string_view key) const;
  Result<uint64_t> GetU64(std::string_view key) const;
  Result<int64_t> GetI64(std::string_view key) const;
  Result<float> GetF32(std::string_view key) const;
  Result<bool> GetBool(std::string_view key) const;
  Result<std::vector<std::string>> GetStringArray(std::string_view key) const;
  Result<std::vector<int32_t>> GetI32Array(std::string_view key) const;
  Result<std::vector<int64_t>> GetI64Array(std::string_view key) const;
  Result<std::vector<float>> GetF32Array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // file order
  // O(1) average. nullptr when absent.
  const TensorInfo* FindTensor(std::string_view name) const;

 private:
  friend class Parser;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unique_ptr<MappedFile> map_;  // heap: pointers into it survive moves of File
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_start_ = 0;
  std::vector<Value> values_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> value_index_;
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> tensor_index_;
};

}  // namespace cachet::gguf
