// `cachet template`: renders chat requests with the model's chat template (JSON lines in/out).
//
//   cachet template --tokenizer PATH [--template FILE] [--tokenize]
//     PATH: tokenizer.json (+ tokenizer_config.json beside it), its directory, or a .gguf file
//     (--model is an alias). --template overrides the template the tokenizer carries.
//     in:  {"messages": [...], "tools": [...], "add_generation_prompt": true, ...} per line; every
//          other key (enable_thinking, thinking, date_string, ...) and the keys of
//          "chat_template_kwargs" become template variables.
//     out: {"text": "..."} per line (plus "ids" with --tokenize), or {"error": "..."} when the
//          template fails for that request (e.g. raise_exception); the command goes on.
// A line that is not a JSON object with a "messages" array stops the command with
// "cachet template: line N: <reason>" on stderr and exit code 1. A template that does not parse
// (unsupported construct) is reported before any input is read, exit code 1.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "command.h"
#include "flags.h"
#include "tokenizer/jinja/template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace cachet::cli {
namespace {

using Json = nlohmann::ordered_json;

int Fail(const std::string& why) {
  std::fflush(stdout);
  std::fprintf(stderr, "cachet template: %s\n", why.c_str());
  return 1;
}

std::string TokenText(const tok::TokenizerSpec& spec, int32_t id) {
  if (id < 0 || id >= static_cast<int32_t>(spec.tokens.size())) return "";
  return spec.tokens[id];
}

// The request line -> ChatRequest; "" on success, else the reason.
std::string ToRequest(const Json& j, const tok::TokenizerSpec& spec, jinja::ChatRequest* r) {
  if (!j.is_object()) return "expected a JSON object";
  if (!j.contains("messages") || !j["messages"].is_array()) return "expected a \"messages\" array";
  r->messages = j["messages"];
  r->tools = j.value("tools", Json());
  if (j.contains("add_generation_prompt")) {
    if (!j["add_generation_prompt"].is_boolean()) return "\"add_generation_prompt\" must be a bool";
    r->add_generation_prompt = j["add_generation_prompt"].get<bool>();
  }
  r->bos_token = TokenText(spec, spec.bos_id);
  r->eos_token = TokenText(spec, spec.eos_id);
  r->extra = Json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "messages" || k == "tools" || k == "add_generation_prompt") continue;
    if (k == "chat_template_kwargs") {
      if (!it.value().is_object()) return "\"chat_template_kwargs\" must be an object";
      for (auto kw = it.value().begin(); kw != it.value().end(); ++kw)
        r->extra[kw.key()] = kw.value();
      continue;
    }
    r->extra[k] = it.value();
  }
  return "";
}

int RunTemplate(int argc, char** argv) {
  std::string path, model, template_file;
  bool tokenize = false;
  Flags flags("template", "cachet template --tokenizer PATH < {\"messages\":[...]} lines");
  flags.String("tokenizer", &path, "tokenizer.json, its directory, or a .gguf file");
  flags.String("model", &model, "a .gguf model (its tokenizer and chat template)");
  flags.String("template", &template_file, "a Jinja chat template file (overrides the model's)");
  flags.Bool("tokenize", &tokenize, "also print the token ids of the rendered text");
  if (auto rc = flags.Parse(argc, argv)) return *rc;
  if (path.empty()) path = model;
  if (path.empty()) return Fail("--tokenizer or --model is required");
  auto spec = tok::LoadTokenizerSpec(path);
  if (!spec.ok()) return Fail(spec.status().ToString());
  std::string source = spec->chat_template;
  if (!template_file.empty()) {
    std::ifstream in(template_file, std::ios::binary);
    if (!in) return Fail("cannot read " + template_file);
    std::ostringstream ss;
    ss << in.rdbuf();
    source = ss.str();
  }
  if (source.empty()) return Fail(path + " carries no chat template (use --template FILE)");
  auto tmpl = jinja::Template::Parse(source);
  if (!tmpl.ok()) return Fail("chat template: " + tmpl.status().ToString());
  std::unique_ptr<tok::Tokenizer> tokenizer;
  if (tokenize) {
    auto t = tok::Tokenizer::Create(*spec);
    if (!t.ok()) return Fail(t.status().ToString());
    tokenizer = std::move(t).value();
  }
  std::string line;
  for (size_t n = 1; std::getline(std::cin, line); ++n) {
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded()) return Fail("line " + std::to_string(n) + ": not valid JSON");
    jinja::ChatRequest req;
    std::string why = ToRequest(j, *spec, &req);
    if (!why.empty()) return Fail("line " + std::to_string(n) + ": " + why);
    auto text = jinja::RenderChat(*tmpl, req);
    Json out;
    if (text.ok()) {
      out["text"] = *text;
      // The template writes BOS itself when it wants one; tokens are parsed as specials.
      if (tokenizer) out["ids"] = tokenizer->Encode(*text, /*add_bos=*/false, true);
    } else {
      out["error"] = text.status().ToString();
    }
    std::string s = out.dump(-1, ' ', false, Json::error_handler_t::replace);
    s.push_back('\n');
    std::fwrite(s.data(), 1, s.size(), stdout);
  }
  return 0;
}

}  // namespace
CACHET_REGISTER_COMMAND(template_cmd, "template",
                        "chat request JSON lines -> prompt text rendered with the chat template",
                        RunTemplate);
}  // namespace cachet::cli
