#include "billing/api_routes.h"

#include <nlohmann/json.hpp>

#include "billing/keys.h"
#include "billing/server_hooks.h"

namespace cachet::billing {
namespace {

using nlohmann::json;

api::ApiReply Json(const json& j, int status = 200) {
  api::ApiReply r;
  r.status = status;
  r.body = j.dump();
  return r;
}

api::ApiReply Error(const Status& s) {
  api::ApiError e = api::FromStatus(s);
  if (s.code() == StatusCode::kAlreadyExists) e.kind = api::ErrorKind::kInvalidRequest;
  if (s.code() == StatusCode::kInsufficientFunds) e.kind = api::ErrorKind::kInsufficientBalance;
  if (s.code() == StatusCode::kIoError) e.kind = api::ErrorKind::kInternal;
  return api::ErrorReply(api::Protocol::kOpenAI, e);
}

api::ApiReply BadRequest(const std::string& msg) { return Error(InvalidArgument(msg)); }

Result<json> Body(const api::ApiCall& call) {
  json j = json::parse(call.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("body must be a JSON object");
  return j;
}

// A string field (or "" when absent); InvalidArgument when present with another type.
Result<std::string> Str(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) return InvalidArgument(std::string(name) + " must be a string");
  return it->get<std::string>();
}

Result<int64_t> Int(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return int64_t{0};
  if (!it->is_number_integer() || it->get<int64_t>() < 0) {
    return InvalidArgument(std::string(name) + " must be a non-negative integer");
  }
  return it->get<int64_t>();
}

Result<Nanos> Amount(const json& j, const char* name) {
  CACHET_ASSIGN_OR_RETURN(std::string s, Str(j, name));
  if (s.empty()) return InvalidArgument(std::string(name) + " is required (decimal string)");
  return ParseAmount(s);
}

json AccountJson(const Account& a) {
  return {{"name", a.name},
          {"currency", a.currency},
          {"prepaid", a.prepaid},
          {"balance", FormatAmount(a.balance())},
          {"granted", FormatAmount(a.granted)},
          {"topped_up", FormatAmount(a.topped_up)},
          {"held", FormatAmount(a.held)},
          {"budget_day", FormatAmount(a.budget_day)},
          {"budget_month", FormatAmount(a.budget_month)}};
}

Result<UsageQuery> QueryFrom(const api::ApiCall& call) {
  UsageQuery q;
  auto param = [&call](const std::string& n) { return call.query ? call.query(n) : ""; };
  for (auto [name, out] : {std::pair{"from", &q.from_us}, std::pair{"to", &q.to_us}}) {
    const std::string v = param(name);
    if (v.empty()) continue;
    CACHET_ASSIGN_OR_RETURN(int64_t t, ParseTime(v));
    *out = t * 1000000;
  }
  const std::string g = param("group_by");
  if (g.empty() || g == "model") q.group_by = GroupBy::kModel;
  else if (g == "key") q.group_by = GroupBy::kKey;
  else if (g == "day") q.group_by = GroupBy::kDay;
  else if (g == "request") q.group_by = GroupBy::kRequest;
  else return InvalidArgument("group_by: model, key, day or request");
  return q;
}

json UsageJson(const std::vector<UsageRow>& rows) {
  json data = json::array();
  for (const UsageRow& r : rows) {
    data.push_back({{"group", r.group},
                    {"requests", r.requests},
                    {"prompt_cache_hit_tokens", r.tokens.hit},
                    {"prompt_cache_miss_tokens", r.tokens.miss},
                    {"completion_tokens", r.tokens.output},
                    {"cost", FormatAmount(r.cost)},
                    {"saving_from_cache", FormatAmount(r.saving)},
                    {"currency", r.currency}});
  }
  return {{"object", "list"}, {"data", data}};
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

class Handlers {
 public:
  Handlers(std::shared_ptr<Meter> meter, std::string admin_token)
      : meter_(std::move(meter)), admin_token_(std::move(admin_token)) {}

  Result<Account> Caller(const api::ApiCall& call) {
    int64_t account_id = 0, key_id = 0;
    if (!ParseHandle(call.account_id, &account_id, &key_id).ok()) {
      return Unauthenticated("this endpoint needs an API key of an account");
    }
    return meter_->ledger().GetAccountById(account_id);
  }

  api::ApiReply Balance(const api::ApiCall& call) {
    auto a = Caller(call);
    if (!a.ok()) return Error(a.status());
    return Json({{"is_available", !a->prepaid || a->available() > 0},
                 {"balance_infos",
                  json::array({{{"currency", a->currency},
                                {"total_balance", FormatAmountFixed(a->balance(), 2)},
                                {"granted_balance", FormatAmountFixed(a->granted, 2)},
                                {"topped_up_balance", FormatAmountFixed(a->topped_up, 2)}}})}});
  }

  api::ApiReply Usage(const api::ApiCall& call) {
    auto a = Caller(call);
    if (!a.ok()) return Error(a.status());
    auto q = QueryFrom(call);
    if (!q.ok()) return Error(q.status());
    q->account_id = a->id;
    auto rows = meter_->ledger().Usage(*q);
    if (!rows.ok()) return Error(rows.status());
    return Json(UsageJson(*rows));
  }

  // nullopt when the caller holds the admin token.
  std::optional<api::ApiReply> CheckAdmin(const api::ApiCall& call) {
    if (admin_token_.empty()) {
      return Error(NotFound("the admin API is off (start the server with --admin-token)"));
    }
    std::string auth = call.header ? call.header("Authorization") : "";
    if (auth.rfind("Bearer ", 0) == 0) auth = auth.substr(7);
    if (!ConstantTimeEquals(HashKey(auth), HashKey(admin_token_))) {
      return Error(Unauthenticated("admin token required"));
    }
    return std::nullopt;
  }

  api::ApiReply Admin(const api::ApiCall& call, Result<json> (Handlers::*fn)(const json&)) {
    if (auto denied = CheckAdmin(call)) return *denied;
    auto body = Body(call);
    if (!body.ok()) return Error(body.status());
    auto out = (this->*fn)(*body);
    if (!out.ok()) return Error(out.status());
    return Json(*out);
  }

  Result<json> CreateAccount(const json& b) {
    CACHET_ASSIGN_OR_RETURN(std::string name, Str(b, "name"));
    CACHET_ASSIGN_OR_RETURN(std::string currency, Str(b, "currency"));
    const bool prepaid = !b.contains("prepaid") || b["prepaid"] != false;
    CACHET_ASSIGN_OR_RETURN(Account a, meter_->ledger().CreateAccount(
                                           name, currency.empty() ? "USD" : currency, prepaid));
    return AccountJson(a);
  }

  Result<json> Credit(const json& b) {
    CACHET_ASSIGN_OR_RETURN(std::string account, Str(b, "account"));
    CACHET_ASSIGN_OR_RETURN(std::string kind, Str(b, "kind"));
    CACHET_ASSIGN_OR_RETURN(Nanos amount, Amount(b, "amount"));
    CACHET_ASSIGN_OR_RETURN(std::string note, Str(b, "note"));
    CACHET_ASSIGN_OR_RETURN(Account a, meter_->ledger().Credit(account, kind, amount, note));
    return AccountJson(a);
  }

  Result<json> Budgets(const json& b) {
    CACHET_ASSIGN_OR_RETURN(std::string account, Str(b, "account"));
    Nanos day = 0, month = 0;
    if (b.contains("day")) {
      CACHET_ASSIGN_OR_RETURN(day, Amount(b, "day"));
    }
    if (b.contains("month")) {
      CACHET_ASSIGN_OR_RETURN(month, Amount(b, "month"));
    }
    CACHET_RETURN_IF_ERROR(meter_->ledger().SetBudgets(account, day, month));
    CACHET_ASSIGN_OR_RETURN(Account a, meter_->ledger().GetAccount(account));
    return AccountJson(a);
  }

  Result<json> CreateKey(const json& b) {
    CACHET_ASSIGN_OR_RETURN(std::string account, Str(b, "account"));
    CACHET_ASSIGN_OR_RETURN(std::string name, Str(b, "name"));
    KeyLimits lim;
    CACHET_ASSIGN_OR_RETURN(int64_t rpm, Int(b, "rpm"));
    CACHET_ASSIGN_OR_RETURN(lim.tokens_per_min, Int(b, "tpm"));
    CACHET_ASSIGN_OR_RETURN(int64_t conc, Int(b, "concurrency"));
    if (rpm > INT32_MAX || conc > INT32_MAX) return InvalidArgument("limit too large");
    lim.requests_per_min = static_cast<int32_t>(rpm);
    lim.max_concurrent = static_cast<int32_t>(conc);
    CACHET_ASSIGN_OR_RETURN(std::string key, GenerateKey());
    CACHET_ASSIGN_OR_RETURN(KeyInfo k, meter_->ledger().CreateKey(account, HashKey(key),
                                                                  KeyDisplay(key), name, lim));
    return json{{"id", k.id}, {"account", k.account_name}, {"key", key}, {"display", k.display}};
  }

  Result<json> RevokeKey(const json& b) {
    CACHET_ASSIGN_OR_RETURN(std::string key, Str(b, "key"));
    CACHET_RETURN_IF_ERROR(meter_->ledger().RevokeKey(key));
    return json{{"revoked", key}};
  }

  Result<json> SetPrice(const json& b) {
    PriceFields f;
    for (auto [name, out] : {std::pair{"model", &f.model}, std::pair{"hit", &f.hit},
                             std::pair{"miss", &f.miss}, std::pair{"output", &f.output},
                             std::pair{"currency", &f.currency}, std::pair{"from", &f.from},
                             std::pair{"to", &f.to}, std::pair{"daily", &f.daily}}) {
      CACHET_ASSIGN_OR_RETURN(*out, Str(b, name));
    }
    CACHET_ASSIGN_OR_RETURN(PriceVersion p, ParsePriceFields(f));
    CACHET_ASSIGN_OR_RETURN(PriceVersion added, meter_->ledger().AddPrice(p));
    return json{{"version", added.id}, {"model", added.model}};
  }

  api::ApiReply ListAccounts(const api::ApiCall& call) {
    if (auto denied = CheckAdmin(call)) return *denied;
    auto all = meter_->ledger().ListAccounts();
    if (!all.ok()) return Error(all.status());
    json data = json::array();
    for (const Account& a : *all) data.push_back(AccountJson(a));
    return Json({{"object", "list"}, {"data", data}});
  }

  api::ApiReply UsageCsv(const api::ApiCall& call) {
    if (auto denied = CheckAdmin(call)) return *denied;
    auto q = QueryFrom(call);
    if (!q.ok()) return Error(q.status());
    const std::string account = call.query ? call.query("account") : "";
    if (!account.empty()) {
      auto a = meter_->ledger().GetAccount(account);
      if (!a.ok()) return Error(a.status());
      q->account_id = a->id;
    }
    auto rows = meter_->ledger().Usage(*q);
    if (!rows.ok()) return Error(rows.status());
    std::string csv =
        "group,account,requests,cache_hit_tokens,cache_miss_tokens,output_tokens,cost,saving,"
        "currency\n";
    for (const UsageRow& r : *rows) {
      csv += CsvField(r.group) + "," + CsvField(r.account) + "," + std::to_string(r.requests) +
             "," + std::to_string(r.tokens.hit) + "," + std::to_string(r.tokens.miss) + "," +
             std::to_string(r.tokens.output) + "," + FormatAmount(r.cost) + "," +
             FormatAmount(r.saving) + "," + CsvField(r.currency) + "\n";
    }
    api::ApiReply reply;
    reply.content_type = "text/csv";
    reply.body = std::move(csv);
    return reply;
  }

 private:
  std::shared_ptr<Meter> meter_;
  std::string admin_token_;
};

}  // namespace

std::vector<api::Route> BillingRoutes(std::shared_ptr<Meter> meter, std::string admin_token) {
  auto h = std::make_shared<Handlers>(std::move(meter), std::move(admin_token));
  auto user = [h](api::ApiReply (Handlers::*fn)(const api::ApiCall&)) {
    return [h, fn](const api::ApiCall& c) { return ((*h).*fn)(c); };
  };
  auto admin = [h](Result<json> (Handlers::*fn)(const json&)) {
    return [h, fn](const api::ApiCall& c) { return h->Admin(c, fn); };
  };
  const auto openai = api::Protocol::kOpenAI;
  std::vector<api::Route> r = {
      {"GET", "/user/balance", openai, user(&Handlers::Balance)},
      {"GET", "/v1/usage", openai, user(&Handlers::Usage)},
      {"GET", "/admin/v1/accounts", openai, user(&Handlers::ListAccounts)},
      {"POST", "/admin/v1/accounts", openai, admin(&Handlers::CreateAccount)},
      {"POST", "/admin/v1/credits", openai, admin(&Handlers::Credit)},
      {"POST", "/admin/v1/budgets", openai, admin(&Handlers::Budgets)},
      {"POST", "/admin/v1/keys", openai, admin(&Handlers::CreateKey)},
      {"POST", "/admin/v1/keys/revoke", openai, admin(&Handlers::RevokeKey)},
      {"POST", "/admin/v1/prices", openai, admin(&Handlers::SetPrice)},
      {"GET", "/admin/v1/usage.csv", openai, user(&Handlers::UsageCsv)},
  };
  for (api::Route& route : r) route.needs_key = route.path.rfind("/admin/", 0) != 0;
  return r;
}

}  // namespace cachet::billing
