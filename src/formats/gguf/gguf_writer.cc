// GGUF writer: encodes metadata and the tensor-info table in memory (small), then streams tensor
// data from the caller's buffers to a temp file that is renamed over the target.
#include "formats/gguf/gguf_writer.h"

#include <cstring>
#include <string>
#include <utility>

namespace cachet::gguf {
namespace {

template <typename T>
void Put(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->append(b, sizeof(T));
}

void PutString(std::string* out, std::string_view s) {
  Put<uint64_t>(out, s.size());
  out->append(s);
}

template <typename T>
std::string EncodeArray(ValueType et, const std::vector<T>& v) {
  std::string e;
  Put<uint32_t>(&e, static_cast<uint32_t>(et));
  Put<uint64_t>(&e, v.size());
  for (const T& x : v) Put<T>(&e, x);
  return e;
}

template <typename T>
std::string Scalar(T v) {
  std::string e;
  Put<T>(&e, v);
  return e;
}

uint64_t RoundUp(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

}  // namespace

void Writer::SetRaw(const std::string& key, ValueType type, std::string encoded) {
  std::string rec;
  Put<uint32_t>(&rec, static_cast<uint32_t>(type));
  rec += encoded;
  auto it = kv_index_.find(key);
  if (it != kv_index_.end()) {
    kvs_[it->second].second = std::move(rec);
    return;
  }
  kv_index_.emplace(key, kvs_.size());
  kvs_.emplace_back(key, std::move(rec));
}

void Writer::SetU8(const std::string& k, uint8_t v) { SetRaw(k, ValueType::kU8, Scalar(v)); }
void Writer::SetI8(const std::string& k, int8_t v) { SetRaw(k, ValueType::kI8, Scalar(v)); }
void Writer::SetU16(const std::string& k, uint16_t v) { SetRaw(k, ValueType::kU16, Scalar(v)); }
void Writer::SetI16(const std::string& k, int16_t v) { SetRaw(k, ValueType::kI16, Scalar(v)); }
void Writer::SetU32(const std::string& k, uint32_t v) { SetRaw(k, ValueType::kU32, Scalar(v)); }
void Writer::SetI32(const std::string& k, int32_t v) { SetRaw(k, ValueType::kI32, Scalar(v)); }
void Writer::SetU64(const std::string& k, uint64_t v) { SetRaw(k, ValueType::kU64, Scalar(v)); }
void Writer::SetI64(const std::string& k, int64_t v) { SetRaw(k, ValueType::kI64, Scalar(v)); }
void Writer::SetF32(const std::string& k, float v) { SetRaw(k, ValueType::kF32, Scalar(v)); }
void Writer::SetF64(const std::string& k, double v) { SetRaw(k, ValueType::kF64, Scalar(v)); }
void Writer::SetBool(const std::string& k, bool v) {
  SetRaw(k, ValueType::kBool, Scalar<uint8_t>(v ? 1 : 0));
}
void Writer::SetString(const std::string& k, const std::string& v) {
  std::string e;
  PutString(&e, v);
  SetRaw(k, ValueType::kString, std::move(e));
}
void Writer::SetStringArray(const std::string& k, const std::vector<std::string>& v) {
  std::string e;
  Put<uint32_t>(&e, static_cast<uint32_t>(ValueType::kString));
  Put<uint64_t>(&e, v.size());
  for (const auto& s : v) PutString(&e, s);
  SetRaw(k, ValueType::kArray, std::move(e));
}
void Writer::SetI32Array(const std::string& k, const std::vector<int32_t>& v) {
  SetRaw(k, ValueType::kArray, EncodeArray(ValueType::kI32, v));
}
void Writer::SetU32Array(const std::string& k, const std::vector<uint32_t>& v) {
  SetRaw(k, ValueType::kArray, EncodeArray(ValueType::kU32, v));
}
void Writer::SetI64Array(const std::string& k, const std::vector<int64_t>& v) {
  SetRaw(k, ValueType::kArray, EncodeArray(ValueType::kI64, v));
}
void Writer::SetF32Array(const std::string& k, const std::vector<float>& v) {
  SetRaw(k, ValueType::kArray, EncodeArray(ValueType::kF32, v));
}
void Writer::SetF64Array(const std::string& k, const std::vector<double>& v) {
  SetRaw(k, ValueType::kArray, EncodeArray(ValueType::kF64, v));
}
void Writer::SetU8Array(const std::string& k, const std::vector<uint8_t>& v) {
  SetRaw(k, ValueType::kArray, EncodeArray(ValueType::kU8, v));
}
void Writer::SetBoolArray(const std::string& k, const std::vector<bool>& v) {
  std::vector<uint8_t> b(v.begin(), v.end());
  SetRaw(k, ValueType::kArray, EncodeArray(ValueType::kBool, b));
}

void Writer::SetAlignment(uint32_t alignment) {
  alignment_ = alignment;
  SetU32("general.alignment", alignment);
}

Status Writer::AddTensor(std::string name, DType type, std::vector<int64_t> ne,
                         std::vector<uint8_t> data) {
  const std::string field = "tensor '" + name + "'";
  if (name.empty()) return InvalidArgument("tensor name is empty");
  if (tensor_index_.count(name) != 0) return AlreadyExists(field + ": duplicate tensor name");
  if (ne.empty() || ne.size() > 4) {
    return InvalidArgument(field + ": " + std::to_string(ne.size()) + " dims (need 1..4)");
  }
  std::optional<DTypeTraits> tr = GetDTypeTraits(static_cast<uint32_t>(type));
  if (!tr) return InvalidArgument(field + ": unknown type");
  int64_t rows = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] <= 0) return InvalidArgument(field + ": ne[" + std::to_string(d) + "] <= 0");
    if (d > 0 && __builtin_mul_overflow(rows, ne[d], &rows)) {
      return InvalidArgument(field + ": shape overflows");
    }
  }
  if (ne[0] % tr->block_size != 0) {
    return InvalidArgument(field + ": ne[0] " + std::to_string(ne[0]) +
                           " is not a multiple of the block size " +
                           std::to_string(tr->block_size));
  }
  int64_t n_bytes = 0;
  if (__builtin_mul_overflow(ne[0] / tr->block_size * tr->block_bytes, rows, &n_bytes) ||
      static_cast<uint64_t>(n_bytes) != data.size()) {
    return InvalidArgument(field + ": data has " + std::to_string(data.size()) +
                           " bytes, type and shape need " + std::to_string(n_bytes));
  }
  tensor_index_.emplace(name, tensors_.size());
  tensors_.push_back({std::move(name), type, std::move(ne), std::move(data)});
  return Status::Ok();
}

Result<std::string> Writer::EncodeHeader() const {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
    return InvalidArgument("alignment " + std::to_string(alignment_) + " is not a power of two");
  }
  std::string h;
  Put<uint32_t>(&h, kMagic);
  Put<uint32_t>(&h, 3);
  Put<int64_t>(&h, static_cast<int64_t>(tensors_.size()));
  Put<int64_t>(&h, static_cast<int64_t>(kvs_.size()));
  for (const auto& [key, rec] : kvs_) {
    if (key.empty()) return InvalidArgument("metadata key is empty");
    PutString(&h, key);
    h += rec;
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    PutString(&h, t.name);
    Put<uint32_t>(&h, static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) Put<int64_t>(&h, n);
    Put<uint32_t>(&h, static_cast<uint32_t>(t.type));
    Put<uint64_t>(&h, offset);
    offset += RoundUp(t.data.size(), alignment_);
  }
  h.resize(RoundUp(h.size(), alignment_), '\0');
  return h;
}

Result<std::string> Writer::WriteToString() const {
  CACHET_ASSIGN_OR_RETURN(std::string out, EncodeHeader());
  for (const Tensor& t : tensors_) {
    out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size());
    out.resize(RoundUp(out.size(), alignment_), '\0');
  }
  return out;
}

Status Writer::WriteFile(const std::string& path, Env* env) const {
  CACHET_ASSIGN_OR_RETURN(std::string header, EncodeHeader());
  const std::string tmp = path + ".tmp";
  CACHET_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, env->NewWritableFile(tmp));
  Status st = f->Append(header);
  const std::string zeros(alignment_, '\0');
  for (size_t i = 0; i < tensors_.size() && st.ok(); ++i) {
    const auto& d = tensors_[i].data;
    st = f->Append(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
    const size_t pad = RoundUp(d.size(), alignment_) - d.size();
    if (st.ok() && pad != 0) st = f->Append(std::string_view(zeros.data(), pad));
  }
  if (st.ok()) st = f->Sync();
  Status close = f->Close();
  if (st.ok()) st = close;
  if (st.ok()) st = env->RenameFile(tmp, path);
  if (!st.ok()) {
    (void)env->RemoveFile(tmp);
    return st.WithContext("writing " + path);
  }
  return Status::Ok();
}

}  // namespace cachet::gguf
