// The list of architectures. Explicit calls (not static self-registration) so the linker never
// drops an architecture from the static library.
#include "model/arch/arch.h"

namespace cachet::model {

const std::vector<ArchEntry>& Architectures() {
  static const std::vector<ArchEntry> entries = [] {
    std::vector<ArchEntry> v;
    arch::RegisterLlama(&v);
    arch::RegisterQwen2(&v);
    arch::RegisterQwen3(&v);
    arch::RegisterDeepSeek2(&v);
    arch::RegisterDeepSeek4(&v);
    return v;
  }();
  return entries;
}

}  // namespace cachet::model
