// Test fixture: an ApiContext with one fake model named "fake" (see fake_model.h) and helpers to
// call a handler and look at its reply.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/service.h"
#include "api/testing/fake_model.h"
#include "api/testing/string_sink.h"

namespace cachet::api::testing {

class ApiFixture : public ::testing::Test {
 protected:
  void Init(const std::string& reply, FakeEngineOptions o = {}) {
    model_ = MakeFakeModel("fake", reply, o);
    ASSERT_TRUE(registry_.Add(model_.entry).ok());
    ctx_.models = &registry_;
    ctx_.metrics = &metrics_;
    ctx_.keepalive_interval = std::chrono::milliseconds(20);
  }
  ApiCall Call(const nlohmann::json& body) {
    ApiCall c;
    c.body = body.dump();
    c.header = [](const std::string&) { return std::string(); };
    return c;
  }
  static nlohmann::json Body(const ApiReply& r) { return nlohmann::json::parse(r.body); }
  // Runs a streaming reply into a sink.
  static StringSink Stream(const ApiReply& r, int fail_after = -1) {
    StringSink s(fail_after);
    EXPECT_TRUE(static_cast<bool>(r.stream));
    if (r.stream) r.stream(s);
    return s;
  }

  FakeModel model_;
  ModelRegistry registry_;
  Metrics metrics_;
  ApiContext ctx_;
};

}  // namespace cachet::api::testing
