// ModelFile: the read-only view of a model file that model code needs (metadata by key, tensors
// by name, zero-copy data pointers). The GGUF implementation maps the file (gguf::File) and hands
// out pointers into the map; nothing is copied. Tests can build one in memory (InMemoryModelFile).
//
// Lifetime: tensor data pointers stay valid while the ModelFile lives. Thread-safety: immutable,
// safe to read from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tensor/dtype.h"

namespace cachet::gguf {
class File;
}  // namespace cachet::gguf

namespace cachet::model {

struct TensorInfo {
  std::string name;
  DType type = DType::kF32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ne0 contiguous (gguf.md §0)
  const void* data = nullptr;    // into the mapped file
  uint64_t nbytes = 0;

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class ModelFile {
 public:
  virtual ~ModelFile() = default;

  // Integer keys accept any integer GGUF type; float keys accept f32/f64 (gguf.md §2). nullopt
  // when the key is absent or has a type that cannot be converted.
  virtual std::optional<int64_t> GetInt(std::string_view key) const = 0;
  virtual std::optional<double> GetFloat(std::string_view key) const = 0;
  virtual std::optional<std::string> GetString(std::string_view key) const = 0;
  // Integer array keys (per-layer head counts); nullopt when absent or not an integer array.
  virtual std::optional<std::vector<int64_t>> GetIntArray(std::string_view key) const = 0;
  // Bool keys (expert_weights_norm); nullopt when absent or not a bool.
  virtual std::optional<bool> GetBool(std::string_view key) const { return std::nullopt; }
  // Numeric array keys as f64 (deepseek4 swiglu_clamp_exp); nullopt when absent or not numeric.
  virtual std::optional<std::vector<double>> GetFloatArray(std::string_view key) const {
    return std::nullopt;
  }
  virtual bool Has(std::string_view key) const = 0;

  virtual const TensorInfo* FindTensor(std::string_view name) const = 0;
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  virtual const std::string& path() const = 0;
  // The underlying GGUF file (for the tokenizer loader), or nullptr for in-memory files.
  virtual const gguf::File* gguf() const { return nullptr; }
  // True when [p, p + n) lies inside a read-only file mapping whose pages may be dropped (they
  // are read back from the file when touched again); false for in-memory data and for bytes a
  // loader made itself (converted or synthesized weights).
  virtual bool Maps(const void* p, size_t n) const { return false; }
};

// Opens and maps a GGUF file (zero-copy). Errors: those of gguf::File::Open (NotFound,
// Corrupt, ...) and Unsupported for a tensor type id the loader does not know.
Result<std::unique_ptr<ModelFile>> OpenGgufModelFile(const std::string& path);

}  // namespace cachet::model
