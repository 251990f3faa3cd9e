// Per-architecture registration functions. Adding an architecture = one file arch/<name>.cc
// defining Register<Name>(), one declaration here and one line in arch/registry.cc.
#pragma once

#include <vector>

#include "model/model.h"

namespace cachet::model::arch {

void RegisterLlama(std::vector<ArchEntry>* out);
void RegisterQwen2(std::vector<ArchEntry>* out);
void RegisterQwen3(std::vector<ArchEntry>* out);
void RegisterDeepSeek2(std::vector<ArchEntry>* out);
void RegisterDeepSeek4(std::vector<ArchEntry>* out);

}  // namespace cachet::model::arch
