// InMemoryModelFile: a ModelFile over a SyntheticModel, for tests that need no file on disk.
#include <map>

#include "model/synthetic.h"

namespace cachet::model {
namespace {

class InMemoryFile final : public ModelFile {
 public:
  explicit InMemoryFile(SyntheticModel m) : m_(std::move(m)) {
    for (const auto& [k, v] : m_.meta) meta_[k] = v;
    for (const auto& t : m_.tensors) {
      TensorInfo ti;
      ti.name = t.name;
      ti.type = t.type;
      ti.n_dims = static_cast<int>(t.ne.size());
      for (size_t i = 0; i < t.ne.size() && i < 4; ++i) ti.ne[i] = t.ne[i];
      ti.data = t.data.data();
      ti.nbytes = t.data.size();
      infos_.push_back(std::move(ti));
    }
  }

  std::optional<int64_t> GetInt(std::string_view key) const override {
    auto it = meta_.find(std::string(key));
    if (it == meta_.end()) return std::nullopt;
    if (auto* u = std::get_if<uint32_t>(&it->second)) return *u;
    return std::nullopt;
  }
  std::optional<double> GetFloat(std::string_view key) const override {
    auto it = meta_.find(std::string(key));
    if (it == meta_.end()) return std::nullopt;
    if (auto* f = std::get_if<float>(&it->second)) return *f;
    return std::nullopt;
  }
  std::optional<std::string> GetString(std::string_view key) const override {
    auto it = meta_.find(std::string(key));
    if (it == meta_.end()) return std::nullopt;
    if (auto* s = std::get_if<std::string>(&it->second)) return *s;
    return std::nullopt;
  }
  std::optional<bool> GetBool(std::string_view key) const override {
    auto it = meta_.find(std::string(key));
    if (it == meta_.end()) return std::nullopt;
    if (auto* b = std::get_if<bool>(&it->second)) return *b;
    return std::nullopt;
  }
  std::optional<std::vector<int64_t>> GetIntArray(std::string_view key) const override {
    auto it = meta_.find(std::string(key));
    if (it == meta_.end()) return std::nullopt;
    auto* a = std::get_if<std::vector<int32_t>>(&it->second);
    if (a == nullptr) return std::nullopt;
    return std::vector<int64_t>(a->begin(), a->end());
  }
  std::optional<std::vector<double>> GetFloatArray(std::string_view key) const override {
    auto it = meta_.find(std::string(key));
    if (it == meta_.end()) return std::nullopt;
    if (auto* f = std::get_if<std::vector<float>>(&it->second)) {
      return std::vector<double>(f->begin(), f->end());
    }
    if (auto* a = std::get_if<std::vector<int32_t>>(&it->second)) {
      return std::vector<double>(a->begin(), a->end());
    }
    return std::nullopt;
  }
  bool Has(std::string_view key) const override { return meta_.count(std::string(key)) != 0; }
  const TensorInfo* FindTensor(std::string_view name) const override {
    for (const auto& t : infos_) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  const std::string& path() const override { return path_; }

 private:
  SyntheticModel m_;
  std::map<std::string, MetaValue> meta_;
  std::vector<TensorInfo> infos_;
  std::string path_ = "<memory>";
};

}  // namespace

std::unique_ptr<ModelFile> InMemoryModelFile(SyntheticModel model) {
  return std::make_unique<InMemoryFile>(std::move(model));
}

}  // namespace cachet::model
