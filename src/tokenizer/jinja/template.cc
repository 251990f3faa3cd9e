#include "tokenizer/jinja/template.h"

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/parser.h"

namespace cachet::jinja {

Result<Template> Template::Parse(const std::string& source) {
  CACHET_ASSIGN_OR_RETURN(NodeList nodes, ParseTemplate(source));
  Template t;
  t.nodes_ = std::make_shared<const NodeList>(std::move(nodes));
  auto g = std::make_shared<Dict>();
  AddGlobals(g.get());
  t.globals_ = std::move(g);
  return t;
}

Result<std::string> Template::Render(const Value& context, const RenderLimits& limits) const {
  if (!nodes_) return InvalidArgument("template was not parsed");
  if (!context.is_dict()) return InvalidArgument("template context must be a dict");
  Interpreter in(limits, globals_.get());
  return in.Render(*nodes_, context.dict());
}

Result<std::string> RenderChat(const Template& t, const ChatRequest& req,
                               const RenderLimits& limits) {
  if (!req.messages.is_array()) return InvalidArgument("messages must be an array");
  if (!req.extra.is_null() && !req.extra.is_object()) {
    return InvalidArgument("extra template variables must be an object");
  }
  Dict ctx;
  CACHET_ASSIGN_OR_RETURN(Value messages, FromJson(req.messages));
  CACHET_ASSIGN_OR_RETURN(Value tools, FromJson(req.tools));
  CACHET_ASSIGN_OR_RETURN(Value documents, FromJson(req.documents));
  ctx.Set("messages", std::move(messages));
  ctx.Set("tools", std::move(tools));
  ctx.Set("documents", std::move(documents));
  ctx.Set("add_generation_prompt", Value(req.add_generation_prompt));
  ctx.Set("bos_token", Value(req.bos_token));
  ctx.Set("eos_token", Value(req.eos_token));
  if (req.extra.is_object()) {
    for (auto it = req.extra.begin(); it != req.extra.end(); ++it) {
      CACHET_ASSIGN_OR_RETURN(Value v, FromJson(it.value()));
      ctx.Set(it.key(), std::move(v));
    }
  }
  return t.Render(Value::MakeDict(std::move(ctx)), limits);
}

Result<std::string> RenderChat(const Template& t, const nlohmann::json& messages,
                               const nlohmann::json& tools, bool add_generation_prompt,
                               const std::string& bos_token, const std::string& eos_token,
                               const nlohmann::json& extra) {
  ChatRequest req;
  req.messages = nlohmann::ordered_json::parse(messages.dump());
  req.tools = nlohmann::ordered_json::parse(tools.dump());
  req.extra = nlohmann::ordered_json::parse(extra.dump());
  req.add_generation_prompt = add_generation_prompt;
  req.bos_token = bos_token;
  req.eos_token = eos_token;
  return RenderChat(t, req);
}

}  // namespace cachet::jinja
