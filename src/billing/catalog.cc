#include "billing/catalog.h"

namespace cachet::billing {

extern const char kBuiltinCatalogCsv[];  // generated from catalog/price_catalog.csv

Nanos CatalogEntry::CostOf(const TokenCounts& t) const {
  PriceVersion p;
  p.hit_per_m = has_hit ? hit_per_m : miss_per_m;
  p.miss_per_m = miss_per_m;
  p.output_per_m = output_per_m;
  return Cost(t, p);
}

Result<std::vector<CatalogEntry>> ParseCatalog(std::string_view csv) {
  std::vector<CatalogEntry> out;
  int line_no = 0;
  while (!csv.empty()) {
    const size_t nl = csv.find('\n');
    std::string_view line = csv.substr(0, nl);
    csv = nl == std::string_view::npos ? std::string_view() : csv.substr(nl + 1);
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t i = 0; i <= line.size(); ++i) {
      if (i == line.size() || line[i] == ',') {
        f.emplace_back(line.substr(start, i - start));
        start = i + 1;
      }
    }
    const std::string where = "price catalog line " + std::to_string(line_no);
    if (f.size() != 8) return InvalidArgument(where + ": expected 8 comma-separated fields");
    CatalogEntry e;
    e.provider = f[0];
    e.model = f[1];
    e.has_hit = !f[2].empty();
    if (e.has_hit) {
      CACHET_ASSIGN_OR_RETURN(e.hit_per_m, ParseAmount(f[2]));
    }
    CACHET_ASSIGN_OR_RETURN(e.miss_per_m, ParseAmount(f[3]));
    CACHET_ASSIGN_OR_RETURN(e.output_per_m, ParseAmount(f[4]));
    e.currency = f[5];
    e.published = f[6];
    e.note = f[7];
    out.push_back(std::move(e));
  }
  return out;
}

const std::vector<CatalogEntry>& BuiltinCatalog() {
  static const std::vector<CatalogEntry> kCatalog = [] {
    auto r = ParseCatalog(kBuiltinCatalogCsv);
    return r.ok() ? std::move(*r) : std::vector<CatalogEntry>();
  }();
  return kCatalog;
}

}  // namespace cachet::billing
