// The GGUF implementation of ModelFile (the only model code that touches the GGUF reader and
// writer), plus LoadModelFromPath and AddSyntheticToGguf.
#include <type_traits>
#include <unordered_map>
#include <variant>

#include "formats/gguf/gguf_reader.h"
#include "formats/gguf/gguf_writer.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace cachet::model {
namespace {

class GgufModelFile final : public ModelFile {
 public:
  GgufModelFile(gguf::File f, std::string path) : f_(std::move(f)), path_(std::move(path)) {
    infos_.reserve(f_.tensors().size());
    for (const auto& t : f_.tensors()) {
      TensorInfo ti;
      ti.name = t.name;
      ti.type = t.type;
      ti.n_dims = t.n_dims;
      for (int i = 0; i < 4; ++i) ti.ne[i] = t.ne[i];
      ti.data = t.data;  // zero-copy: points into the mapping
      ti.nbytes = t.n_bytes;
      index_.emplace(ti.name, infos_.size());
      infos_.push_back(std::move(ti));
    }
  }

  std::optional<int64_t> GetInt(std::string_view key) const override {
    const gguf::Value* v = f_.Find(key);
    if (v == nullptr || v->is_array() || v->type() == gguf::ValueType::kF32 ||
        v->type() == gguf::ValueType::kF64) {
      return std::nullopt;
    }
    auto r = v->AsI64();
    if (!r.ok()) return std::nullopt;
    return *r;
  }
  std::optional<double> GetFloat(std::string_view key) const override {
    const gguf::Value* v = f_.Find(key);
    if (v == nullptr || v->is_array()) return std::nullopt;
    auto r = v->AsF64();
    if (!r.ok()) return std::nullopt;
    return *r;
  }
  std::optional<std::string> GetString(std::string_view key) const override {
    const gguf::Value* v = f_.Find(key);
    if (v == nullptr) return std::nullopt;
    auto r = v->AsString();
    if (!r.ok()) return std::nullopt;
    return std::string(*r);
  }
  std::optional<bool> GetBool(std::string_view key) const override {
    const gguf::Value* v = f_.Find(key);
    if (v == nullptr) return std::nullopt;
    auto r = v->AsBool();
    if (!r.ok()) return std::nullopt;
    return *r;
  }
  std::optional<std::vector<int64_t>> GetIntArray(std::string_view key) const override {
    const gguf::Value* v = f_.Find(key);
    if (v == nullptr || !v->is_array()) return std::nullopt;
    auto r = v->ArrayI64s();
    if (!r.ok()) return std::nullopt;
    return *r;
  }
  std::optional<std::vector<double>> GetFloatArray(std::string_view key) const override {
    const gguf::Value* v = f_.Find(key);
    if (v == nullptr || !v->is_array()) return std::nullopt;
    auto r = v->ArrayF64s();
    if (!r.ok()) return std::nullopt;
    return *r;
  }
  bool Has(std::string_view key) const override { return f_.Find(key) != nullptr; }
  const TensorInfo* FindTensor(std::string_view name) const override {
    auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &infos_[it->second];
  }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  const std::string& path() const override { return path_; }
  const gguf::File* gguf() const override { return &f_; }
  bool Maps(const void* p, size_t n) const override { return f_.Maps(p, n); }

 private:
  gguf::File f_;
  std::string path_;
  std::vector<TensorInfo> infos_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace

Result<std::unique_ptr<ModelFile>> OpenGgufModelFile(const std::string& path) {
  CACHET_ASSIGN_OR_RETURN(gguf::File f, gguf::File::Open(path));
  return std::unique_ptr<ModelFile>(std::make_unique<GgufModelFile>(std::move(f), path));
}

Result<std::unique_ptr<Model>> LoadModelFromPath(const std::string& path) {
  CACHET_ASSIGN_OR_RETURN(std::unique_ptr<ModelFile> f, OpenGgufModelFile(path));
  return LoadModel(std::shared_ptr<const ModelFile>(std::move(f)));
}

Status AddSyntheticToGguf(SyntheticModel model, gguf::Writer* w) {
  for (auto& [key, value] : model.meta) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, uint32_t>)
            w->SetU32(key, v);
          else if constexpr (std::is_same_v<T, float>)
            w->SetF32(key, v);
          else if constexpr (std::is_same_v<T, bool>)
            w->SetBool(key, v);
          else if constexpr (std::is_same_v<T, std::vector<int32_t>>)
            w->SetI32Array(key, v);
          else if constexpr (std::is_same_v<T, std::vector<float>>)
            w->SetF32Array(key, v);
          else
            w->SetString(key, v);
        },
        value);
  }
  for (auto& t : model.tensors) {
    CACHET_RETURN_IF_ERROR(w->AddTensor(t.name, t.type, t.ne, std::move(t.data)));
  }
  return Status::Ok();
}

}  // namespace cachet::model
