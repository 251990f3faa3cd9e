// Billing endpoints, in the API layer's transport-neutral Route form:
//   GET  /user/balance                     DeepSeek's shape, for the caller's account
//   GET  /v1/usage?from=&to=&group_by=     the caller's account: model | key | day | request
//   admin (Authorization: Bearer <admin token>, compared in constant time; absent token = admin
//   API off):
//   GET  /admin/v1/accounts                POST /admin/v1/accounts {name, currency, prepaid}
//   POST /admin/v1/credits {account, kind: grant|topup, amount: "12.5", note}
//   POST /admin/v1/budgets {account, day, month}
//   POST /admin/v1/keys {account, name, rpm, tpm, concurrency} → {key} (shown once)
//   POST /admin/v1/keys/revoke {key}      (id or display form)
//   POST /admin/v1/prices {model, hit, miss, output, currency, from, to | daily}
//   GET  /admin/v1/usage.csv?from=&to=&group_by=&account=
// Amounts travel as decimal strings (never JSON floats). Admin routes skip key authentication
// (Route::needs_key = false) and check the admin token themselves.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/service.h"
#include "billing/meter.h"

namespace cachet::billing {

std::vector<api::Route> BillingRoutes(std::shared_ptr<Meter> meter, std::string admin_token);

}  // namespace cachet::billing
