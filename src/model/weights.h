// Weight lookup with shape validation. Weights are views into the mapped file (zero-copy);
// only tiny 1-D vectors (norms, biases) may be converted to f32 copies when the file stores them
// in another type.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/packed_arena.h"
#include "model/model_file.h"
#include "tensor/dtype.h"

namespace cachet::model {

// A 2-D matrix ne=[k, n] (n rows of k) or a 1-D vector (n = 1).
struct Weight {
  DType type = DType::kF32;
  const void* data = nullptr;  // nullptr = absent (optional tensor)
  int64_t k = 0;               // ne0
  int64_t n = 0;               // ne1
  const std::string* name = nullptr;
  // The same matrix in the kernel table's packed layout (model/packed_weights.h), or nullptr.
  const void* packed = nullptr;
  bool present() const { return data != nullptr; }
};

// A 1-D vector as f32 (pointing into the file when stored as f32, else into owned storage).
struct VecF32 {
  const float* data = nullptr;  // nullptr = absent
  int64_t n = 0;
  bool present() const { return data != nullptr; }
};

class WeightLoader {
 public:
  explicit WeightLoader(const ModelFile& f) : f_(f) {}

  // Matrix `name` with ne=[k, n]; must have a matmul-capable type and a row length that is a
  // multiple of its block size. Errors (Corrupt) name the tensor and both shapes.
  Result<Weight> Matrix(const std::string& name, int64_t k, int64_t n, bool required = true);
  // A stack of e matrices ne=[k, n, e] (MoE experts, per-head MLA blocks), returned as one
  // Weight of n*e rows of k: matrix i starts at row i*n. Errors as Matrix.
  Result<Weight> Matrix3(const std::string& name, int64_t k, int64_t n, int64_t e,
                         bool required = true);
  // Vector `name` with ne=[n], converted to f32 if needed.
  Result<VecF32> Vector(const std::string& name, int64_t n, bool required = true);
  // Names of tensors in the file never requested (for the "unused tensor" warning).
  std::vector<std::string> Unused() const;

 private:
  Result<const TensorInfo*> Find(const std::string& name, std::initializer_list<int64_t> ne,
                                 bool required);
  const ModelFile& f_;
  std::set<std::string> used_;
  std::vector<std::vector<float>> owned_;  // converted vectors (stable: inner data never moves)

 public:
  // Moves the converted vectors out (the model keeps them alive).
  std::vector<std::vector<float>> TakeOwned() { return std::move(owned_); }
};

std::string ShapeString(const int64_t* ne, int n_dims);

// Packs the present weights among `ws` into `arena` in `kt`'s packed layout (kernels::PackOrWarn;
// a failure only costs speed) and sets their `packed` pointers. Weights whose bytes lie in the
// file mapping (ModelFile::Maps) have those pages dropped once packed; bytes a loader built
// itself (converted or synthesized matrices) are never released.
void PackMatrices(const kernels::KernelTable& kt, const ModelFile& file,
                  std::span<Weight* const> ws, kernels::PackedArena* arena);

}  // namespace cachet::model
