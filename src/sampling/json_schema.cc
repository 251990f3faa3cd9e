#include "sampling/json_schema.h"

#include <algorithm>

namespace cachet::sampling {
namespace {

using Kind = JsonGrammar::Kind;
using VK = JsonValue::Kind;

class Builder {
 public:
  Builder() { AddBaseNodes(); }

  JsonGrammar Take() { return std::move(g_); }

  int32_t Add(JsonGrammar::Node n) {
    g_.nodes.push_back(std::move(n));
    return static_cast<int32_t>(g_.nodes.size() - 1);
  }

  Result<int32_t> Compile(const JsonValue& s, const std::string& path, int depth);

 private:
  static Status Err(const std::string& path, const std::string& what) {
    return InvalidArgument(path + ": " + what);
  }
  void AddBaseNodes();
  Result<int32_t> CompileLiterals(std::vector<std::string> lits, const std::string& path);
  Result<int32_t> CompileTyped(const JsonValue& s, std::string_view type, const std::string& path,
                               int depth);
  Result<int32_t> CompileObject(const JsonValue& s, const std::string& path, int depth);
  Result<int32_t> CompileAnyOf(std::vector<int32_t> alts, const std::string& path);

  JsonGrammar g_;
};

void Builder::AddBaseNodes() {
  JsonGrammar::Node n;
  n.kind = Kind::kString;
  n.first.set('"');
  g_.string = Add(n);
  n = {};
  n.kind = Kind::kNumber;
  n.first.set('-');
  for (int c = '0'; c <= '9'; ++c) n.first.set(c);
  g_.number = Add(n);
  n = {};
  n.kind = Kind::kLiterals;
  n.lits = {"false", "null", "true"};
  n.first.set('f');
  n.first.set('n');
  n.first.set('t');
  g_.keywords = Add(n);
  n = {};
  n.kind = Kind::kAny;
  g_.any = Add(n);
  n = {};
  n.kind = Kind::kAnyObject;
  n.first.set('{');
  g_.any_object = Add(n);
  n = {};
  n.kind = Kind::kArray;
  n.child = g_.any;
  n.first.set('[');
  g_.any_array = Add(n);
  auto& any = g_.nodes[g_.any];
  any.alts = {g_.string, g_.number, g_.keywords, g_.any_object, g_.any_array};
  for (int32_t a : any.alts) any.first |= g_.nodes[a].first;
}

Result<int32_t> Builder::CompileLiterals(std::vector<std::string> lits, const std::string& path) {
  if (lits.empty()) return Err(path, "enum must not be empty");
  if (lits.size() > static_cast<size_t>(kMaxEnumValues)) {
    return Err(path, "more than " + std::to_string(kMaxEnumValues) + " enum values");
  }
  std::sort(lits.begin(), lits.end());
  lits.erase(std::unique(lits.begin(), lits.end()), lits.end());
  JsonGrammar::Node n;
  n.kind = Kind::kLiterals;
  for (const auto& l : lits) n.first.set(static_cast<unsigned char>(l[0]));
  n.lits = std::move(lits);
  return Add(std::move(n));
}

Result<int32_t> Builder::CompileAnyOf(std::vector<int32_t> alts, const std::string& path) {
  if (alts.empty()) return Err(path, "anyOf must not be empty");
  if (alts.size() == 1) return alts[0];
  JsonGrammar::Node n;
  n.kind = Kind::kAnyOf;
  for (int32_t a : alts) {
    if ((n.first & g_.nodes[a].first).any()) {
      return Err(path,
                 "anyOf alternatives that can start with the same character are not "
                 "supported (use alternatives of different types)");
    }
    n.first |= g_.nodes[a].first;
  }
  n.alts = std::move(alts);
  return Add(std::move(n));
}

Result<int32_t> Builder::Compile(const JsonValue& s, const std::string& path, int depth) {
  if (depth > kMaxSchemaDepth) return Err(path, "schema nested too deeply");
  if (static_cast<int>(g_.nodes.size()) > kMaxSchemaNodes) return Err(path, "schema too large");
  if (s.kind == VK::kBool) {
    if (!s.boolean) return Err(path, "a false schema matches nothing");
    return g_.any;
  }
  if (s.kind != VK::kObject) return Err(path, "a schema must be an object or a boolean");
  for (const char* k : {"$ref", "oneOf", "allOf", "not", "if", "patternProperties", "prefixItems",
                        "dependentSchemas", "propertyNames"}) {
    if (s.Find(k)) return Err(path + "." + k, "keyword not supported");
  }
  if (const JsonValue* c = s.Find("const")) return CompileLiterals({SerializeJson(*c)}, path);
  if (const JsonValue* e = s.Find("enum")) {
    if (e->kind != VK::kArray) return Err(path + ".enum", "must be an array");
    std::vector<std::string> lits;
    for (const auto& v : e->items) lits.push_back(SerializeJson(v));
    return CompileLiterals(std::move(lits), path + ".enum");
  }
  if (const JsonValue* a = s.Find("anyOf")) {
    if (a->kind != VK::kArray) return Err(path + ".anyOf", "must be an array");
    std::vector<int32_t> alts;
    for (size_t i = 0; i < a->items.size(); ++i) {
      CACHET_ASSIGN_OR_RETURN(
          int32_t id, Compile(a->items[i], path + ".anyOf[" + std::to_string(i) + "]", depth + 1));
      alts.push_back(id);
    }
    return CompileAnyOf(std::move(alts), path + ".anyOf");
  }
  const JsonValue* t = s.Find("type");
  if (!t) {
    if (s.Find("properties")) return CompileTyped(s, "object", path, depth);
    if (s.Find("items")) return CompileTyped(s, "array", path, depth);
    return g_.any;
  }
  if (t->kind == VK::kString) return CompileTyped(s, t->text, path + ".type", depth);
  if (t->kind != VK::kArray) return Err(path + ".type", "must be a string or an array");
  std::vector<int32_t> alts;
  for (const auto& ti : t->items) {
    if (ti.kind != VK::kString) return Err(path + ".type", "must list type names");
    CACHET_ASSIGN_OR_RETURN(int32_t id, CompileTyped(s, ti.text, path + ".type", depth));
    alts.push_back(id);
  }
  return CompileAnyOf(std::move(alts), path + ".type");
}

// `path` names the "type" field for type errors; other fields are named from its parent.
Result<int32_t> Builder::CompileTyped(const JsonValue& s, std::string_view type,
                                      const std::string& path, int depth) {
  std::string base =
      path.size() >= 5 && path.ends_with(".type") ? path.substr(0, path.size() - 5) : path;
  if (type == "string") return g_.string;
  if (type == "number") return g_.number;
  if (type == "integer") {
    JsonGrammar::Node n;
    n.kind = Kind::kInteger;
    n.first = g_.nodes[g_.number].first;
    return Add(std::move(n));
  }
  if (type == "boolean") return CompileLiterals({"false", "true"}, path);
  if (type == "null") return CompileLiterals({"null"}, path);
  if (type == "object") return CompileObject(s, base, depth);
  if (type == "array") {
    JsonGrammar::Node n;
    n.kind = Kind::kArray;
    n.first.set('[');
    n.child = g_.any;
    if (const JsonValue* items = s.Find("items")) {
      if (items->kind == VK::kArray) return Err(base + ".items", "tuple items not supported");
      CACHET_ASSIGN_OR_RETURN(n.child, Compile(*items, base + ".items", depth + 1));
    }
    return Add(std::move(n));
  }
  return Err(path, "unsupported type '" + std::string(type) + "'");
}

Result<int32_t> Builder::CompileObject(const JsonValue& s, const std::string& path, int depth) {
  const JsonValue* props = s.Find("properties");
  const JsonValue* req = s.Find("required");
  const JsonValue* extra = s.Find("additionalProperties");
  bool extra_false = extra && extra->kind == VK::kBool && !extra->boolean;
  if (props && props->kind != VK::kObject) return Err(path + ".properties", "must be an object");
  if (req && req->kind != VK::kArray) return Err(path + ".required", "must be an array");
  bool has_props = props && !props->members.empty();
  if (!has_props && !extra && !req) return g_.any_object;
  if (!has_props && extra && extra->kind == VK::kBool && extra->boolean && !req) {
    return g_.any_object;
  }
  (void)extra_false;  // without properties, anything but "any object" produces only {}
  JsonGrammar::Node n;
  n.kind = Kind::kObject;
  n.first.set('{');
  if (has_props) {
    if (props->members.size() > static_cast<size_t>(kMaxProperties)) {
      return Err(path + ".properties", "more than 64 properties");
    }
    for (const auto& [name, sub] : props->members) {
      JsonGrammar::Property p;
      AppendJsonString(name, &p.key);
      CACHET_ASSIGN_OR_RETURN(p.node, Compile(sub, path + ".properties." + name, depth + 1));
      for (const auto& q : n.props) {
        if (q.key == p.key) return Err(path + ".properties." + name, "duplicate property");
      }
      n.props.push_back(std::move(p));
    }
  }
  if (req) {
    for (const auto& r : req->items) {
      if (r.kind != VK::kString) return Err(path + ".required", "must list property names");
      std::string key;
      AppendJsonString(r.text, &key);
      auto it =
          std::find_if(n.props.begin(), n.props.end(), [&](const auto& p) { return p.key == key; });
      if (it == n.props.end()) {
        return Err(path + ".required", "'" + r.text + "' is not in properties");
      }
      it->required = true;
    }
  }
  return Add(std::move(n));
}

}  // namespace

JsonGrammar JsonObjectGrammar() {
  Builder b;
  JsonGrammar g = b.Take();
  g.root = g.any_object;
  return g;
}

Result<JsonGrammar> CompileJsonSchema(const JsonValue& schema, std::string_view path) {
  Builder b;
  CACHET_ASSIGN_OR_RETURN(int32_t root, b.Compile(schema, std::string(path), 0));
  JsonGrammar g = b.Take();
  g.root = root;
  return g;
}

Result<JsonGrammar> CompileJsonSchema(std::string_view schema, std::string_view path) {
  auto v = ParseJson(schema, 4 * kMaxSchemaDepth);
  if (!v.ok()) return InvalidArgument(std::string(path) + ": " + v.status().message());
  return CompileJsonSchema(*v, path);
}

}  // namespace cachet::sampling
