#include "api/stop_matcher.h"

#include <gtest/gtest.h>

namespace cachet::api {
namespace {

TEST(StopMatcher, NoStopsPassesEverything) {
  StopMatcher m({});
  EXPECT_EQ(m.Push("hello"), "hello");
  EXPECT_EQ(m.Flush(), "");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, HoldsPrefixAcrossPushesAndReleasesWhenRuledOut) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.Push("abcE"), "abc");
  EXPECT_EQ(m.Push("N"), "");
  EXPECT_EQ(m.Push("x"), "ENx");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, MatchSplitOverThreeTokens) {
  StopMatcher m({"STOP"});
  std::string out;
  for (const char* piece : {"one S", "T", "O", "P tail"}) out += m.Push(piece);
  EXPECT_EQ(out, "one ");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "STOP");
  EXPECT_EQ(m.Push("more"), "");
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopMatcher, EarliestOfSeveralWins) {
  StopMatcher m({"world", "lo w"});
  EXPECT_EQ(m.Push("hello world"), "hel");
  EXPECT_EQ(m.matched(), "lo w");
}

TEST(StopMatcher, FlushReturnsHeldTextAtEnd) {
  StopMatcher m({"\n\n"});
  EXPECT_EQ(m.Push("line\n"), "line");
  EXPECT_EQ(m.Flush(), "\n");
}

TEST(StopMatcher, MultibyteStop) {
  StopMatcher m({"\xC3\xA9t\xC3\xA9"});  // "été"
  EXPECT_EQ(m.Push("l'\xC3\xA9"), "l'");
  EXPECT_EQ(m.Push("t\xC3\xA9!"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, EmptyStopIgnored) {
  StopMatcher m({""});
  EXPECT_EQ(m.Push("abc"), "abc");
  EXPECT_FALSE(m.stopped());
}

}  // namespace
}  // namespace cachet::api
