// libFuzzer target: parse arbitrary bytes as GGUF, then read every value and touch every tensor's
// first and last byte (ASan flags any pointer the parser let out of the buffer).
#include <cstddef>
#include <cstdint>

#include "formats/gguf/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = cachet::gguf::File::FromBytes(data, size);
  if (!f.ok()) return 0;
  volatile uint64_t sink = 0;
  for (const cachet::gguf::Value& v : f->values()) {
    (void)v.AsU64();
    (void)v.AsI64();
    (void)v.AsF64();
    (void)v.AsBool();
    if (auto s = v.AsString(); s.ok()) sink = sink + s->size();
    (void)v.ArrayI64s();
    (void)v.ArrayF64s();
    if (auto a = v.ArrayStrings(); a.ok()) {
      for (auto s : *a) sink = sink + (s.empty() ? 0 : static_cast<uint8_t>(s.back()));
    }
    (void)f->GetString(v.key());
    (void)f->GetI32Array(v.key());
    (void)f->GetF32Array(v.key());
    (void)f->GetStringArray(v.key());
  }
  for (const cachet::gguf::TensorInfo& t : f->tensors()) {
    sink = sink + t.data[0] + t.data[t.n_bytes - 1];
    if (f->FindTensor(t.name) != &t) __builtin_trap();
  }
  (void)f->architecture();
  return 0;
}
