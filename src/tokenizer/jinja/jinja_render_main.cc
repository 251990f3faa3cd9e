// jinja_render: renders chat requests with cachet's Jinja interpreter, one JSON line in, one out.
// The C++ side of the python reference test (tools/jinja_render.py --check).
//   in:  {"template": "...", "messages": [...], "tools": [...]|null, "add_generation_prompt": b,
//         "bos_token": "...", "eos_token": "...", "extra": {...}}
//   out: {"text": "..."} or {"error": "..."}
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/jinja/template.h"

int main() {
  using Json = nlohmann::ordered_json;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    Json out;
    Json req = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded() || !req.is_object()) {
      out["error"] = "bad request line";
      std::cout << out.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
      continue;
    }
    auto t = cachet::jinja::Template::Parse(req.value("template", ""));
    if (!t.ok()) {
      out["error"] = t.status().ToString();
      std::cout << out.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
      continue;
    }
    cachet::jinja::ChatRequest r;
    r.messages = req.value("messages", Json::array());
    r.tools = req.value("tools", Json());
    r.add_generation_prompt = req.value("add_generation_prompt", true);
    r.bos_token = req.value("bos_token", "");
    r.eos_token = req.value("eos_token", "");
    r.extra = req.value("extra", Json());
    auto text = cachet::jinja::RenderChat(*t, r);
    if (text.ok()) {
      out["text"] = *text;
    } else {
      out["error"] = text.status().ToString();
    }
    std::cout << out.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
  }
  return 0;
}
