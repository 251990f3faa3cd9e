// `cachet serve --model FILE [--model FILE ...]`: the OpenAI- and Anthropic-compatible server.
//
// Options come from (later wins): built-in defaults, the --config TOML file (keys as the flag
// names with '_' for '-', top level or under [server]), environment variables CACHET_<NAME>
// (CACHET_PORT, CACHET_NO_AUTH, CACHET_MODEL="a.gguf,b.gguf"), then the command line.
// Each model is loaded from its GGUF (weights, tokenizer and chat template) and gets its own
// engine. SIGINT/SIGTERM drain: /health turns 503, new requests get 503, running streams get
// --drain-seconds to finish.
// Built only with the model's kernels, the engine and the HTTP server in the build.
#if defined(CACHET_MODEL_RUNNABLE) && defined(CACHET_HTTP_HAS_ENGINE)
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api/chat_template.h"
#include "api/metrics.h"
#include "api/model_registry.h"
#include "api/service.h"
#include "base/env.h"
#include "base/log.h"
#include "command.h"
#include "engine/create_engine.h"
#include "flags.h"
#include "formats/gguf/gguf_reader.h"
#include "http/auth.h"
#ifdef CACHET_HAS_BILLING
#include "billing/api_routes.h"
#include "billing/server_hooks.h"
#endif
#include "http/config.h"
#include "http/server.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"
#ifdef CACHET_API_HAS_JINJA
#include "api/jinja_chat_template.h"
#endif
#ifdef CACHET_API_HAS_PARSERS
#include "api/model_output_parser.h"
#endif

namespace cachet::cli {
namespace {

struct ServeOptions {
  std::vector<std::string> models, model_names, api_keys, chat_templates;
  std::string host = "127.0.0.1", data_dir, config, admin_token, ledger;
  bool share_cache = false;
  bool no_prefix_cache = false;  // benchmarks: every prompt computed, nothing reused
  // [prices.MODEL] sections of the config file: field -> value (hit, miss, output, currency,
  // from, to, daily), seeded into the ledger at start.
  std::map<std::string, std::map<std::string, std::string>> config_prices;
  int64_t port = 8080, threads = 0, http_threads = 256, kv_cache_mb = 1024, max_running = 16;
  int64_t queue = 256, ctx = 0, max_body_mb = 8, drain_seconds = 30, queue_timeout_s = 60;
  int64_t http_io_threads = 1, max_connections = 10000;
  bool no_auth = false;
};

// One option as the three sources see it.
struct OptionSpec {
  std::string name;  // flag name, "no-auth"
  std::function<Status(const http::ConfigValue&)> set;
};

Status SetString(const http::ConfigValue& v, std::string* out) {
  if (v.kind == http::ConfigValue::Kind::kArray) return InvalidArgument("expected one value");
  *out = v.str;
  return Status::Ok();
}
Status SetInt(const http::ConfigValue& v, int64_t* out) {
  if (v.kind == http::ConfigValue::Kind::kInt) {
    *out = v.i;
    return Status::Ok();
  }
  char* end = nullptr;
  const long long x = std::strtoll(v.str.c_str(), &end, 10);
  if (v.str.empty() || *end != '\0')
    return InvalidArgument("expected an integer, got '" + v.str + "'");
  *out = x;
  return Status::Ok();
}
Status SetBool(const http::ConfigValue& v, bool* out) {
  if (v.kind == http::ConfigValue::Kind::kBool) {
    *out = v.b;
  } else if (v.str == "1" || v.str == "true" || v.str == "yes") {
    *out = true;
  } else if (v.str == "0" || v.str == "false" || v.str == "no" || v.str.empty()) {
    *out = false;
  } else {
    return InvalidArgument("expected true or false, got '" + v.str + "'");
  }
  return Status::Ok();
}
Status SetList(const http::ConfigValue& v, std::vector<std::string>* out) {
  out->clear();
  if (v.kind == http::ConfigValue::Kind::kArray) {
    for (const auto& x : v.arr) out->push_back(x.str);
    return Status::Ok();
  }
  size_t pos = 0;  // environment form: comma-separated
  while (pos <= v.str.size()) {
    size_t end = v.str.find(',', pos);
    if (end == std::string::npos) end = v.str.size();
    if (end > pos) out->push_back(v.str.substr(pos, end - pos));
    pos = end + 1;
  }
  return Status::Ok();
}

std::vector<OptionSpec> Specs(ServeOptions* o) {
  auto str = [](std::string* p) {
    return [p](const http::ConfigValue& v) { return SetString(v, p); };
  };
  auto num = [](int64_t* p) { return [p](const http::ConfigValue& v) { return SetInt(v, p); }; };
  auto list = [](std::vector<std::string>* p) {
    return [p](const http::ConfigValue& v) { return SetList(v, p); };
  };
  return {{"model", list(&o->models)},
          {"model-name", list(&o->model_names)},
          {"chat-template", list(&o->chat_templates)},
          {"api-key", list(&o->api_keys)},
          {"admin-token", str(&o->admin_token)},
          {"ledger", str(&o->ledger)},
          {"share-cache", [o](const http::ConfigValue& v) { return SetBool(v, &o->share_cache); }},
          {"no-prefix-cache",
           [o](const http::ConfigValue& v) { return SetBool(v, &o->no_prefix_cache); }},
          {"host", str(&o->host)},
          {"port", num(&o->port)},
          {"data-dir", str(&o->data_dir)},
          {"threads", num(&o->threads)},
          {"http-threads", num(&o->http_threads)},
          {"http-io-threads", num(&o->http_io_threads)},
          {"max-connections", num(&o->max_connections)},
          {"kv-cache-mb", num(&o->kv_cache_mb)},
          {"max-running", num(&o->max_running)},
          {"queue", num(&o->queue)},
          {"ctx", num(&o->ctx)},
          {"max-body-mb", num(&o->max_body_mb)},
          {"drain-seconds", num(&o->drain_seconds)},
          {"queue-timeout-s", num(&o->queue_timeout_s)},
          {"no-auth", [o](const http::ConfigValue& v) { return SetBool(v, &o->no_auth); }}};
}

std::string EnvName(const std::string& flag) {
  std::string s = "CACHET_";
  for (char c : flag) s += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return s;
}

// Config file, then environment, for every option the command line did not give.
Status ApplyConfigAndEnv(const Flags& flags, ServeOptions* o) {
  http::ConfigMap config;
  if (!o->config.empty()) {
    auto text = Env::Default()->ReadFile(o->config);
    if (!text.ok()) return text.status();
    auto parsed = http::ParseTomlSubset(*text);
    if (!parsed.ok()) return parsed.status().WithContext(o->config);
    config = std::move(*parsed);
  }
  for (const OptionSpec& spec : Specs(o)) {
    if (flags.Given(spec.name)) continue;
    std::string key = spec.name;
    for (char& c : key) c = c == '-' ? '_' : c;
    for (const std::string& k : {key, "server." + key}) {
      auto it = config.find(k);
      if (it == config.end()) continue;
      CACHET_RETURN_IF_ERROR(spec.set(it->second).WithContext(o->config + ": " + k));
      config.erase(it);
    }
    if (const char* env = std::getenv(EnvName(spec.name).c_str())) {
      http::ConfigValue v;
      v.str = env;
      CACHET_RETURN_IF_ERROR(spec.set(v).WithContext(EnvName(spec.name)));
    }
  }
  for (auto it = config.begin(); it != config.end();) {
    const std::string& k = it->first;
    const size_t dot = k.rfind('.');
    if (k.rfind("prices.", 0) == 0 && dot > 7 && it->second.kind != http::ConfigValue::Kind::kArray) {
      o->config_prices[k.substr(7, dot - 7)][k.substr(dot + 1)] = it->second.str;
      it = config.erase(it);
    } else {
      ++it;
    }
  }
  if (!config.empty()) {
    return InvalidArgument(o->config + ": unknown key '" + config.begin()->first + "'");
  }
  return Status::Ok();
}

#ifdef CACHET_HAS_BILLING
// [prices.MODEL] hit/miss/output (decimal strings), currency, from/to or daily.
Result<std::vector<billing::PriceVersion>> ConfigPrices(const ServeOptions& o) {
  std::vector<billing::PriceVersion> out;
  for (const auto& [model, f] : o.config_prices) {
    const std::string where = "[prices." + model + "]";
    auto get = [&f](const char* k) {
      auto it = f.find(k);
      return it == f.end() ? std::string() : it->second;
    };
    for (const auto& [k, v] : f) {
      if (k != "hit" && k != "miss" && k != "output" && k != "currency" && k != "from" &&
          k != "to" && k != "daily") {
        return InvalidArgument(where + ": unknown key '" + k + "'");
      }
    }
    auto p = billing::ParsePriceFields({model, get("hit"), get("miss"), get("output"),
                                        get("currency"), get("from"), get("to"), get("daily")});
    if (!p.ok()) return p.status().WithContext(where);
    out.push_back(std::move(*p));
  }
  return out;
}
#endif

// Identifies the weights for the disk cache: size plus a hash of the first and last MiB.
std::string Fingerprint(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  uint64_t h = 1469598103934665603ull;
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  std::vector<char> buf(1 << 20);
  for (uint64_t off : {uint64_t{0}, size > buf.size() ? size - buf.size() : uint64_t{0}}) {
    f.seekg(static_cast<std::streamoff>(off));
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    for (std::streamsize i = 0; i < f.gcount(); ++i)
      h = (h ^ static_cast<uint8_t>(buf[i])) * 1099511628211ull;
    f.clear();
  }
  char out[64];
  std::snprintf(out, sizeof(out), "%llu-%016llx", static_cast<unsigned long long>(size),
                static_cast<unsigned long long>(h));
  return out;
}

Result<std::shared_ptr<const api::ChatTemplate>> TemplateFor(const tok::Tokenizer& t,
                                                             const std::string& name) {
  const std::string& src = t.spec().chat_template;
  if (src.empty()) {
    LOG_WARN << name << ": the model has no chat template; using ChatML";
    return std::shared_ptr<const api::ChatTemplate>(api::MakeChatMlTemplate());
  }
#ifdef CACHET_API_HAS_JINJA
  auto tpl = api::MakeJinjaChatTemplate(src, t.TokenText(t.bos_id()), t.TokenText(t.eos_id()));
  if (!tpl.ok()) return tpl.status().WithContext(name + ": chat template");
  return std::shared_ptr<const api::ChatTemplate>(std::move(*tpl));
#else
  return Unsupported(name + ": this build has no chat-template interpreter");
#endif
}

Result<api::ModelEntry> LoadOne(const ServeOptions& o, const std::string& path,
                                const std::string& name, const std::string& template_file) {
  auto loaded = model::LoadModelFromPath(path);
  if (!loaded.ok()) return loaded.status().WithContext(path);
  std::shared_ptr<model::Model> m = std::move(*loaded);
  const gguf::File* gf = m->file().gguf();
  if (gf == nullptr) return Internal(path + ": no GGUF metadata");
  auto spec = tok::TokenizerSpecFromGguf(*gf);
  if (!spec.ok()) return spec.status().WithContext(path + ": tokenizer");
  if (!template_file.empty()) {
    // The operator's override replaces the template carried by the model file.
    auto text = Env::Default()->ReadFile(template_file);
    if (!text.ok()) return text.status().WithContext("--chat-template");
    LOG_INFO << name << ": chat template from " << template_file;
    spec->chat_template = std::move(*text);
  }
  auto tok = tok::Tokenizer::Create(*spec);
  if (!tok.ok()) return tok.status().WithContext(path + ": tokenizer");
  api::ModelEntry e;
  e.name = name;
  e.tokenizer = std::shared_ptr<const tok::Tokenizer>(std::move(*tok));
  CACHET_ASSIGN_OR_RETURN(e.chat_template, TemplateFor(*e.tokenizer, name));
#ifdef CACHET_API_HAS_PARSERS
  e.make_parser = api::ModelOutputParserFactory(e.tokenizer->spec().chat_template);
#endif
  e.fim = api::DetectFimTokens(*e.tokenizer);
  e.created = api::UnixNow();
  engine::EngineConfig ec;
  ec.model_name = name;
  ec.kv_budget_bytes = o.kv_cache_mb << 20;
  ec.max_running = o.max_running;
  ec.queue_capacity = o.queue;
  ec.n_ctx = o.ctx;
  ec.threads = static_cast<int>(o.threads > 0 ? o.threads : ThreadPool::HardwareThreads());
  ec.model_fingerprint = Fingerprint(path);
  ec.prefix_cache = !o.no_prefix_cache;
  if (!o.data_dir.empty()) ec.cache_dir = JoinPath(JoinPath(o.data_dir, "kv-cache"), name);
  auto eng = engine::CreateEngine(m, ec);
  if (!eng.ok()) return eng.status().WithContext(name + ": engine");
  e.engine = std::shared_ptr<engine::Engine>(std::move(*eng));
  return e;
}

std::string DefaultName(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

int Fail(const Status& s) {
  std::fprintf(stderr, "cachet serve: %s\n", s.ToString().c_str());
  return 1;
}

int Serve(const ServeOptions& o) {
  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::shared_ptr<http::Authenticator> auth =
      o.no_auth ? http::MakeNoAuth() : http::MakeStaticKeyAuth(o.api_keys);
  if (o.no_auth && !http::IsLoopbackHost(o.host)) {
    return Fail(InvalidArgument("--no-auth is only allowed with a loopback --host"));
  }
  // Keys and accounts from the ledger (DATA_DIR/ledger.db or --ledger postgres://...) unless
  // --no-auth or static --api-key keys are given.
  const bool use_ledger = !o.no_auth && o.api_keys.empty();
  std::vector<api::Route> extra_routes;
#ifdef CACHET_HAS_BILLING
  std::shared_ptr<billing::Meter> meter;
  std::unique_ptr<billing::LedgerUsageHook> usage_hook;
  if (use_ledger) {
    if (o.data_dir.empty() && o.ledger.empty()) {
      return Fail(InvalidArgument(
          "give --data-dir DIR (keys from `cachet keys create --data-dir DIR`), --api-key KEY, "
          "or --no-auth on a loopback host"));
    }
    auto ledger = billing::OpenLedger(o.data_dir, o.ledger, "server");
    if (!ledger.ok()) return Fail(ledger.status());
    // Holds left by this server's previous life (a crash) are released before serving.
    auto released = (*ledger)->ReleaseOrphanedHolds();
    if (!released.ok()) return Fail(released.status());
    if (*released > 0) LOG_WARN << "ledger: released " << *released << " orphaned hold(s)";
    auto prices = ConfigPrices(o);
    if (!prices.ok()) return Fail(prices.status());
    auto seeded = billing::SeedPrices(**ledger, *prices);
    if (!seeded.ok()) return Fail(seeded.status());
    if (*seeded > 0) LOG_INFO << "ledger: " << *seeded << " price version(s) from the config";
    meter = std::make_shared<billing::Meter>(std::move(*ledger),
                                             billing::MeterOptions{o.share_cache});
    auth = std::make_shared<billing::LedgerAuthenticator>(meter);
    usage_hook = std::make_unique<billing::LedgerUsageHook>(meter);
    extra_routes = billing::BillingRoutes(meter, o.admin_token);
  }
#else
  if (use_ledger) {
    return Fail(InvalidArgument("give --api-key KEY (or CACHET_API_KEY), or --no-auth on a "
                                "loopback host"));
  }
#endif
  // Listen first (/health says "loading" meanwhile), then load the models and turn ready.
  api::ModelRegistry registry;
  api::Metrics metrics;
  api::ApiContext ctx;
  ctx.models = &registry;
  ctx.metrics = &metrics;
  ctx.queue_timeout = std::chrono::seconds(o.queue_timeout_s);
#ifdef CACHET_HAS_BILLING
  ctx.usage = usage_hook.get();
#endif
  std::vector<api::Route> routes = api::ApiRoutes(&ctx);
  for (api::Route& r : extra_routes) routes.push_back(std::move(r));
  http::HttpOptions h;
  h.host = o.host;
  h.port = static_cast<int>(o.port);
  h.threads = static_cast<int>(o.http_threads);
  h.io_threads = static_cast<int>(o.http_io_threads);
  h.max_connections = static_cast<int>(o.max_connections);
  h.payload_max_bytes = static_cast<size_t>(o.max_body_mb) << 20;
  http::HttpServer server(h, std::move(routes), auth, &registry, &metrics);
  if (Status s = server.Start(); !s.ok()) return Fail(s);
  for (size_t i = 0; i < o.models.size(); ++i) {
    const std::string name = i < o.model_names.size() ? o.model_names[i] : DefaultName(o.models[i]);
    LOG_INFO << "loading " << o.models[i] << " as '" << name << "'";
    const std::string tpl = i < o.chat_templates.size() ? o.chat_templates[i] : "";
    auto e = LoadOne(o, o.models[i], name, tpl);
    if (!e.ok()) return Fail(e.status());
    if (Status s = registry.Add(std::move(*e)); !s.ok()) return Fail(s);
  }
  server.SetReady(true);
  const std::string base = "http://" + o.host + ":" + std::to_string(server.port());
  std::printf("cachet: serving %zu model(s) at %s\n  OpenAI:    %s/v1\n  Anthropic: %s/anthropic\n",
              registry.models().size(), base.c_str(), base.c_str(), base.c_str());
  for (const auto& m : registry.models()) std::printf("  model:     %s\n", m->name.c_str());
  std::printf("  auth:      %s\n", o.no_auth   ? "none (--no-auth, loopback only)"
                                   : use_ledger ? "API keys of the ledger (cachet keys create)"
                                                : "Authorization: Bearer <key> or x-api-key");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  LOG_INFO << "signal " << sig << ": draining (up to " << o.drain_seconds << " s)";
  const auto grace = std::chrono::seconds(o.drain_seconds);
  std::vector<std::thread> stoppers;
  for (const auto& m : registry.models()) {
    stoppers.emplace_back([m, grace] { m->engine->Shutdown(grace); });
  }
  server.Shutdown(grace + std::chrono::seconds(1));
  for (auto& t : stoppers) t.join();
  return 0;
}

int RunServe(int argc, char** argv) {
  ServeOptions o;
  Flags flags("serve",
              "cachet serve --model FILE [--model FILE ...] [--model-name NAME ...] "
              "[--host 127.0.0.1] [--port 8080] [--data-dir DIR] [--config cachet.toml] "
              "[--no-auth | --api-key KEY ...] [--threads N]");
  flags.Repeated("model", &o.models, "GGUF model file (repeat for several models)");
  flags.Repeated("model-name", &o.model_names,
                 "name clients use, per --model (default: file stem)");
  flags.Repeated("chat-template", &o.chat_templates,
                 "Jinja chat template file overriding the model's, per --model (\"\" = keep)");
  flags.Repeated("api-key", &o.api_keys,
                 "accepted API key (repeatable) until billing provides keys");
  flags.String("host", &o.host, "address to listen on (default 127.0.0.1)");
  flags.Int("port", &o.port, "port (default 8080; 0 = any free port)");
  flags.String("data-dir", &o.data_dir, "directory for the disk KV cache");
  flags.String("config", &o.config, "TOML config file");
  flags.Bool("no-auth", &o.no_auth, "no API key needed (loopback hosts only)");
  flags.String("admin-token", &o.admin_token, "token for the admin API (/admin/v1/...); off if empty");
  flags.String("ledger", &o.ledger, "sqlite (default: DATA_DIR/ledger.db) or postgres://...");
  flags.Bool("share-cache", &o.share_cache, "share prefix-cache blocks across accounts");
  flags.Bool("no-prefix-cache", &o.no_prefix_cache,
             "compute every prompt in full (no prefix reuse, no disk tier; for benchmarks)");
  flags.Int("threads", &o.threads, "kernel threads per engine (default: all)");
  flags.Int("http-threads", &o.http_threads,
            "HTTP worker threads: requests handled at once, streams included (default 256); "
            "idle and slow connections take no thread");
  flags.Int("http-io-threads", &o.http_io_threads, "threads running the sockets (default 1)");
  flags.Int("max-connections", &o.max_connections,
            "open connections before new ones get 503 (default 10000)");
  flags.Int("kv-cache-mb", &o.kv_cache_mb, "KV cache memory per model in MiB (default 1024)");
  flags.Int("max-running", &o.max_running, "sequences in a batch (default 16)");
  flags.Int("queue", &o.queue, "waiting requests before 503 (default 256)");
  flags.Int("ctx", &o.ctx, "context limit (default: the model's)");
  flags.Int("max-body-mb", &o.max_body_mb, "request body limit in MiB (default 8)");
  flags.Int("drain-seconds", &o.drain_seconds, "grace period for running requests on shutdown");
  flags.Int("queue-timeout-s", &o.queue_timeout_s,
            "a request still queued after this long gets 503 (default 60)");
  if (auto rc = flags.Parse(argc, argv)) return *rc;
  if (!flags.Given("config")) {
    if (const char* c = std::getenv("CACHET_CONFIG")) o.config = c;
  }
  if (Status s = ApplyConfigAndEnv(flags, &o); !s.ok()) return flags.UsageError(s.message());
  if (o.models.empty()) return flags.UsageError("--model is required");
  if (o.port < 0 || o.port > 65535) return flags.UsageError("--port must be 0..65535");
  struct Range {
    const char* name;
    int64_t value, lo, hi;
  };
  for (const Range& r :
       {Range{"--kv-cache-mb", o.kv_cache_mb, 1, int64_t{1} << 24},
        Range{"--http-threads", o.http_threads, 1, 100000},
        Range{"--http-io-threads", o.http_io_threads, 1, 256},
        Range{"--max-connections", o.max_connections, 1, 10000000},
        Range{"--max-body-mb", o.max_body_mb, 1, 4096}, Range{"--threads", o.threads, 0, 4096},
        Range{"--max-running", o.max_running, 1, 1 << 20}, Range{"--queue", o.queue, 1, 1 << 24},
        Range{"--ctx", o.ctx, 0, int64_t{1} << 30},
        Range{"--drain-seconds", o.drain_seconds, 0, 86400},
        Range{"--queue-timeout-s", o.queue_timeout_s, 1, 86400}}) {
    if (r.value < r.lo || r.value > r.hi) {
      return flags.UsageError(std::string(r.name) + " must be " + std::to_string(r.lo) + ".." +
                              std::to_string(r.hi));
    }
  }
  return Serve(o);
}

}  // namespace
CACHET_REGISTER_COMMAND(serve, "serve", "serve models over the OpenAI and Anthropic APIs",
                        RunServe);
}  // namespace cachet::cli
#endif  // CACHET_MODEL_RUNNABLE && CACHET_HTTP_HAS_ENGINE
