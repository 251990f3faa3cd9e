// JsonMatcher: a pushdown automaton over bytes that accepts exactly the texts a JsonGrammar
// allows (see json_schema.h for the output policy: compact JSON, properties in schema order).
//
// The state is a small stack of fixed-size frames, cheap to copy: the token-mask walk copies
// it once per vocabulary trie edge. Feed() never allocates.
//
// Thread-safety: a JsonMatcher is a value; the grammar it points to must outlive it and is only
// read.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "sampling/json_schema.h"

namespace cachet::sampling {

inline constexpr int kMaxFrames = 40;  // total nesting of the matched value
inline constexpr int kMaxNumberBytes = 32;

class JsonMatcher {
 public:
  explicit JsonMatcher(const JsonGrammar* g) : g_(g) {}
  JsonMatcher(const JsonMatcher& o) { CopyFrom(o); }
  JsonMatcher& operator=(const JsonMatcher& o) {
    CopyFrom(o);
    return *this;
  }
  // Copies only the live frames (the walk's hot path).
  void CopyFrom(const JsonMatcher& o) {
    g_ = o.g_;
    depth_ = o.depth_;
    started_ = o.started_;
    for (int i = 0; i < depth_; ++i) f_[i] = o.f_[i];
  }

  // Advances by one byte. Returns false (state unspecified afterwards) when the byte cannot
  // continue any accepted text.
  bool Feed(uint8_t c);
  // Feeds each byte; false at the first rejected one.
  bool FeedAll(std::string_view bytes) {
    for (char c : bytes) {
      if (!Feed(static_cast<uint8_t>(c))) return false;
    }
    return true;
  }
  // The value is complete and nothing can extend it.
  bool Done() const { return started_ && depth_ == 0; }
  // The bytes so far form a complete value (possibly extendable: a top-level number).
  bool CanEnd() const;
  // Inside a string's plain content (not within an escape or a UTF-8 sequence): any bytes that
  // are valid string content and do not close the string leave the rest of the state alone.
  bool InStringContent() const {
    return depth_ > 0 && g_->nodes[f_[depth_ - 1].node].kind == JsonGrammar::Kind::kString &&
           f_[depth_ - 1].phase == 1;
  }

 private:
  struct Frame {
    int32_t node;
    int32_t a;     // literals: candidate range begin; object: current property
    int32_t b;     // literals: range end; object: next property index
    uint16_t pos;  // bytes matched in a literal / key / number; UTF-8 bytes still expected
    uint8_t phase;
    uint8_t lo_hi;  // string: next UTF-8 byte range selector
    uint64_t mask;  // object: key candidates
  };
  enum class Step : uint8_t { kOk, kOkPop, kReject, kPopRetry, kPush };

  Step FeedFrame(Frame& f, uint8_t c, int32_t* push);
  Step FeedString(Frame& f, uint8_t c);
  Step FeedNumber(Frame& f, uint8_t c, bool integer);
  Step FeedLiterals(Frame& f, uint8_t c);
  Step FeedObject(Frame& f, uint8_t c, int32_t* push);
  Step FeedAnyObject(Frame& f, uint8_t c, int32_t* push);
  Step FeedArray(Frame& f, uint8_t c, int32_t* push);
  // Resolves kAny / kAnyOf by the first byte; -1 when `c` cannot start the value.
  int32_t Resolve(int32_t node, uint8_t c) const;
  bool Push(int32_t node);
  void ChildDone();
  uint64_t KeyCandidates(const JsonGrammar::Node& n, int32_t next) const;

  const JsonGrammar* g_;
  int32_t depth_ = 0;
  bool started_ = false;
  std::array<Frame, kMaxFrames> f_;
};

}  // namespace cachet::sampling
