// GGUF writer (version 3, little-endian; ../shared/specs/gguf.md §1-§4).
//
// Metadata keys keep insertion order; setting a key again replaces its value in place. Tensors are
// written in AddTensor order, each at an offset that is a multiple of the alignment (default 32,
// or SetAlignment's, which is also written as general.alignment). WriteFile streams to
// "<path>.tmp" and renames it over `path`, so a reader never sees a half-written file; tensor data
// is written straight from the buffers given to AddTensor (no second copy).
//
// Not thread-safe; use from one thread.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "formats/gguf/gguf_reader.h"
#include "tensor/dtype.h"

namespace cachet::gguf {

class Writer {
 public:
  void SetU8(const std::string& key, uint8_t v);
  void SetI8(const std::string& key, int8_t v);
  void SetU16(const std::string& key, uint16_t v);
  void SetI16(const std::string& key, int16_t v);
  void SetU32(const std::string& key, uint32_t v);
  void SetI32(const std::string& key, int32_t v);
  void SetU64(const std::string& key, uint64_t v);
  void SetI64(const std::string& key, int64_t v);
  void SetF32(const std::string& key, float v);
  void SetF64(const std::string& key, double v);
  void SetBool(const std::string& key, bool v);
  void SetString(const std::string& key, const std::string& v);
  void SetStringArray(const std::string& key, const std::vector<std::string>& v);
  void SetI32Array(const std::string& key, const std::vector<int32_t>& v);
  void SetU32Array(const std::string& key, const std::vector<uint32_t>& v);
  void SetI64Array(const std::string& key, const std::vector<int64_t>& v);
  void SetF32Array(const std::string& key, const std::vector<float>& v);
  void SetF64Array(const std::string& key, const std::vector<double>& v);
  void SetBoolArray(const std::string& key, const std::vector<bool>& v);
  void SetU8Array(const std::string& key, const std::vector<uint8_t>& v);

  // Power of two >= 1; also stored as general.alignment (u32). Invalid values are reported by
  // WriteFile as InvalidArgument.
  void SetAlignment(uint32_t alignment);

  // Validates and takes ownership of `data`. InvalidArgument (naming the tensor) when the name is
  // empty, ne has 0 or >4 dims, a dim is <= 0, ne0 is not a multiple of the type's block size, or
  // data.size() != the byte size implied by type and shape; AlreadyExists for a duplicate name.
  Status AddTensor(std::string name, DType type, std::vector<int64_t> ne,
                   std::vector<uint8_t> data);

  // Writes the file (see the header comment). IoError from the Env; InvalidArgument for an
  // invalid alignment or empty key.
  Status WriteFile(const std::string& path, Env* env = Env::Default()) const;
  // The whole file in memory (tests, small files).
  Result<std::string> WriteToString() const;

  size_t n_tensors() const { return tensors_.size(); }

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;
  };
  void SetRaw(const std::string& key, ValueType type, std::string encoded);
  Result<std::string> EncodeHeader() const;  // everything before the data section, padded

  std::vector<std::pair<std::string, std::string>> kvs_;  // key -> type id + encoded value
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
  uint32_t alignment_ = kDefaultAlignment;
};

}  // namespace cachet::gguf
