// The price catalog: other providers' public list prices (catalog/price_catalog.csv, compiled
// in), used by `cachet usage --compare` to price the same tokens elsewhere.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "billing/prices.h"

namespace cachet::billing {

struct CatalogEntry {
  std::string provider, model, currency, published, note;
  Nanos hit_per_m = 0, miss_per_m = 0, output_per_m = 0;
  bool has_hit = false;  // false: hit tokens priced as misses
  Nanos CostOf(const TokenCounts& t) const;
};

// Parses catalog CSV text (lines starting with '#' and blank lines ignored). InvalidArgument
// naming the line on a malformed entry.
Result<std::vector<CatalogEntry>> ParseCatalog(std::string_view csv);
// The built-in catalog.
const std::vector<CatalogEntry>& BuiltinCatalog();

}  // namespace cachet::billing
