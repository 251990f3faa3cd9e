#include "api/output_parser.h"

namespace cachet::api {
namespace {

class PassthroughParser final : public OutputParser {
 public:
  ParsedDelta Push(std::string_view text) override {
    ParsedDelta d;
    d.content = std::string(text);
    return d;
  }
  ParsedDelta Finish() override { return {}; }
};

}  // namespace

std::unique_ptr<OutputParser> MakePassthroughParser() {
  return std::make_unique<PassthroughParser>();
}

}  // namespace cachet::api
