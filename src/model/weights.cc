#include "model/weights.h"

#include <cstring>

#include "kernels/kernels.h"

namespace cachet::model {

std::string ShapeString(const int64_t* ne, int n_dims) {
  std::string s = "[";
  for (int i = 0; i < n_dims; ++i) {
    if (i) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "]";
}

Result<const TensorInfo*> WeightLoader::Find(const std::string& name,
                                             std::initializer_list<int64_t> ne, bool required) {
  const TensorInfo* t = f_.FindTensor(name);
  if (t == nullptr) {
    if (required) return Corrupt("missing tensor " + name);
    return static_cast<const TensorInfo*>(nullptr);
  }
  used_.insert(name);
  std::vector<int64_t> want(ne);
  bool ok = t->n_dims >= 1 && t->n_dims <= 4;
  for (int i = 0; ok && i < 4; ++i) {
    const int64_t w = i < static_cast<int>(want.size()) ? want[i] : 1;
    if (t->ne[i] != w) ok = false;
  }
  if (!ok) {
    return Corrupt("tensor " + name + " has shape " + ShapeString(t->ne, t->n_dims) +
                   ", expected " + ShapeString(want.data(), static_cast<int>(want.size())));
  }
  const auto& tr = Traits(t->type);
  if (t->ne[0] % tr.block_size != 0) {
    return Corrupt("tensor " + name + ": row length not a multiple of the " + std::string(tr.name) +
                   " block");
  }
  const uint64_t expect_bytes = static_cast<uint64_t>(RowBytes(t->type, t->ne[0])) *
                                static_cast<uint64_t>(t->ne[1] * t->ne[2] * t->ne[3]);
  if (t->data == nullptr || t->nbytes < expect_bytes) {
    return Corrupt("tensor " + name + ": data shorter than its shape");
  }
  return t;
}

Result<Weight> WeightLoader::Matrix(const std::string& name, int64_t k, int64_t n, bool required) {
  CACHET_ASSIGN_OR_RETURN(const TensorInfo* t, Find(name, {k, n}, required));
  Weight w;
  if (t == nullptr) return w;
  if (!Traits(t->type).supported_compute) {
    return Unsupported("tensor " + name + " has type " + std::string(DTypeName(t->type)) +
                       ", which the kernels cannot use as a weight");
  }
  w.type = t->type;
  w.data = t->data;
  w.k = k;
  w.n = n;
  w.name = &t->name;
  return w;
}

Result<Weight> WeightLoader::Matrix3(const std::string& name, int64_t k, int64_t n, int64_t e,
                                     bool required) {
  CACHET_ASSIGN_OR_RETURN(const TensorInfo* t, Find(name, {k, n, e}, required));
  Weight w;
  if (t == nullptr) return w;
  if (!Traits(t->type).supported_compute) {
    return Unsupported("tensor " + name + " has type " + std::string(DTypeName(t->type)) +
                       ", which the kernels cannot use as a weight");
  }
  w.type = t->type;
  w.data = t->data;
  w.k = k;
  w.n = n * e;
  w.name = &t->name;
  return w;
}

Result<VecF32> WeightLoader::Vector(const std::string& name, int64_t n, bool required) {
  CACHET_ASSIGN_OR_RETURN(const TensorInfo* t, Find(name, {n}, required));
  VecF32 v;
  if (t == nullptr) return v;
  v.n = n;
  if (t->type == DType::kF32) {
    v.data = static_cast<const float*>(t->data);
    return v;
  }
  if (!Traits(t->type).supported_compute) {
    return Unsupported("tensor " + name + " has unsupported type " +
                       std::string(DTypeName(t->type)));
  }
  owned_.emplace_back(n);
  kernels::Kernels().dequantize_row(t->type, t->data, owned_.back().data(), n);
  v.data = owned_.back().data();
  return v;
}

std::vector<std::string> WeightLoader::Unused() const {
  std::vector<std::string> out;
  for (const auto& t : f_.tensors()) {
    if (!used_.count(t.name)) out.push_back(t.name);
  }
  return out;
}

void PackMatrices(const kernels::KernelTable& kt, const ModelFile& file,
                  std::span<Weight* const> ws, kernels::PackedArena* arena) {
  std::vector<kernels::PackRequest> reqs;
  for (Weight* w : ws) {
    if (!w->present()) continue;
    const size_t bytes = static_cast<size_t>(RowBytes(w->type, w->k) * w->n);
    reqs.push_back({w->type, w->data, w->n, w->k, &w->packed, file.Maps(w->data, bytes)});
  }
  kernels::PackOrWarn(kt, reqs, arena);
}

}  // namespace cachet::model
