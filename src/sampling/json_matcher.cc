#include "sampling/json_matcher.h"

namespace cachet::sampling {

using Kind = JsonGrammar::Kind;

namespace {
bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }
bool IsHex(uint8_t c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
}  // namespace

int32_t JsonMatcher::Resolve(int32_t node, uint8_t c) const {
  for (;;) {
    const auto& n = g_->nodes[node];
    if (!n.first.test(c)) return -1;
    if (n.kind != Kind::kAny && n.kind != Kind::kAnyOf) return node;
    int32_t next = -1;
    for (int32_t a : n.alts) {
      if (g_->nodes[a].first.test(c)) {
        next = a;
        break;
      }
    }
    if (next < 0) return -1;
    node = next;
  }
}

bool JsonMatcher::Push(int32_t node) {
  if (depth_ >= kMaxFrames) return false;
  Frame& f = f_[depth_++];
  f.node = node;
  f.phase = 0;
  f.pos = 0;
  f.a = 0;
  f.b = static_cast<int32_t>(g_->nodes[node].lits.size());
  f.lo_hi = 0;
  f.mask = 0;
  return true;
}

bool JsonMatcher::Feed(uint8_t c) {
  if (!started_) {
    int32_t root = Resolve(g_->root, c);
    if (root < 0 || !Push(root)) return false;
    started_ = true;
  }
  for (;;) {
    if (depth_ == 0) return false;
    int32_t push = -1;
    switch (FeedFrame(f_[depth_ - 1], c, &push)) {
      case Step::kOk:
        return true;
      case Step::kOkPop:
        --depth_;
        ChildDone();
        return true;
      case Step::kReject:
        return false;
      case Step::kPopRetry:
        --depth_;
        if (depth_ == 0) return false;
        ChildDone();
        break;
      case Step::kPush: {
        int32_t node = Resolve(push, c);
        if (node < 0 || !Push(node)) return false;
        break;
      }
    }
  }
}

// The parent of a finished value moves past it.
void JsonMatcher::ChildDone() {
  if (depth_ == 0) return;
  Frame& p = f_[depth_ - 1];
  p.phase = static_cast<uint8_t>(p.phase + 1);  // every "in child" phase is followed by its next
}

bool JsonMatcher::CanEnd() const {
  if (Done()) return true;
  if (depth_ != 1) return false;
  const Frame& f = f_[0];
  const auto& n = g_->nodes[f.node];
  switch (n.kind) {
    case Kind::kNumber:
    case Kind::kInteger:
      return f.phase == 2 || f.phase == 3 || f.phase == 5 || f.phase == 8;
    case Kind::kLiterals:
      return f.a < f.b && n.lits[f.a].size() == f.pos;
    default:
      return false;
  }
}

JsonMatcher::Step JsonMatcher::FeedFrame(Frame& f, uint8_t c, int32_t* push) {
  switch (g_->nodes[f.node].kind) {
    case Kind::kString:
      return FeedString(f, c);
    case Kind::kNumber:
      return FeedNumber(f, c, false);
    case Kind::kInteger:
      return FeedNumber(f, c, true);
    case Kind::kLiterals:
      return FeedLiterals(f, c);
    case Kind::kObject:
      return FeedObject(f, c, push);
    case Kind::kAnyObject:
      return FeedAnyObject(f, c, push);
    case Kind::kArray:
      return FeedArray(f, c, push);
    case Kind::kAny:
    case Kind::kAnyOf:
      return Step::kReject;  // resolved before pushing
  }
  return Step::kReject;
}

// Phases: 0 before '"', 1 content, 2 after '\', 3 inside a UTF-8 sequence (pos bytes left,
// next byte in [a, b]), 4 \u hex digits (pos seen).
JsonMatcher::Step JsonMatcher::FeedString(Frame& f, uint8_t c) {
  switch (f.phase) {
    case 0:
      if (c != '"') return Step::kReject;
      f.phase = 1;
      return Step::kOk;
    case 1:
      if (c == '"') return Step::kOkPop;
      if (c == '\\') {
        f.phase = 2;
        return Step::kOk;
      }
      if (c < 0x20) return Step::kReject;
      if (c < 0x80) return Step::kOk;
      f.a = 0x80;
      f.b = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        f.pos = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        f.pos = 2;
        if (c == 0xE0) f.a = 0xA0;
        if (c == 0xED) f.b = 0x9F;  // no surrogates
      } else if (c >= 0xF0 && c <= 0xF4) {
        f.pos = 3;
        if (c == 0xF0) f.a = 0x90;
        if (c == 0xF4) f.b = 0x8F;
      } else {
        return Step::kReject;
      }
      f.phase = 3;
      return Step::kOk;
    case 2:
      if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
          c == 't') {
        f.phase = 1;
        return Step::kOk;
      }
      if (c != 'u') return Step::kReject;
      f.phase = 4;
      f.pos = 0;
      return Step::kOk;
    case 3:
      if (c < f.a || c > f.b) return Step::kReject;
      f.a = 0x80;
      f.b = 0xBF;
      if (--f.pos == 0) f.phase = 1;
      return Step::kOk;
    case 4:
      if (!IsHex(c)) return Step::kReject;
      if (++f.pos == 4) f.phase = 1;
      return Step::kOk;
  }
  return Step::kReject;
}

// Phases: 0 start, 1 after '-', 2 after a leading 0*, 3 integer digits*, 4 after '.',
// 5 fraction digits*, 6 after e/E, 7 after the exponent sign, 8 exponent digits* (*: accepting).
JsonMatcher::Step JsonMatcher::FeedNumber(Frame& f, uint8_t c, bool integer) {
  bool accepting = f.phase == 2 || f.phase == 3 || f.phase == 5 || f.phase == 8;
  if (f.pos >= kMaxNumberBytes) return accepting ? Step::kPopRetry : Step::kReject;
  uint8_t next = 255;
  bool digit = IsDigit(c);
  bool dot = c == '.' && !integer;
  bool exp = (c == 'e' || c == 'E') && !integer;
  switch (f.phase) {
    case 0:
      next = c == '-' ? 1 : c == '0' ? 2 : digit ? 3 : 255;
      break;
    case 1:
      next = c == '0' ? 2 : digit ? 3 : 255;
      break;
    case 2:
      next = dot ? 4 : exp ? 6 : 255;
      break;
    case 3:
      next = digit ? 3 : dot ? 4 : exp ? 6 : 255;
      break;
    case 4:
      next = digit ? 5 : 255;
      break;
    case 5:
      next = digit ? 5 : exp ? 6 : 255;
      break;
    case 6:
      next = (c == '+' || c == '-') ? 7 : digit ? 8 : 255;
      break;
    case 7:
    case 8:
      next = digit ? 8 : 255;
      break;
  }
  if (next == 255) return accepting ? Step::kPopRetry : Step::kReject;
  f.phase = next;
  ++f.pos;
  return Step::kOk;
}

// Candidates are lits[a, b), all sharing their first `pos` bytes; sorted, so a candidate equal
// to that prefix comes first and those continuing with a given byte are contiguous.
JsonMatcher::Step JsonMatcher::FeedLiterals(Frame& f, uint8_t c) {
  const auto& lits = g_->nodes[f.node].lits;
  bool complete = f.a < f.b && lits[f.a].size() == f.pos;
  int32_t lo = f.a;
  while (lo < f.b && (lits[lo].size() <= f.pos || static_cast<uint8_t>(lits[lo][f.pos]) < c)) ++lo;
  int32_t hi = lo;
  while (hi < f.b && static_cast<uint8_t>(lits[hi][f.pos]) == c) ++hi;
  if (lo == hi) return complete ? Step::kPopRetry : Step::kReject;
  f.a = lo;
  f.b = hi;
  ++f.pos;
  if (hi - lo == 1 && lits[lo].size() == f.pos) return Step::kOkPop;
  return Step::kOk;
}

// Properties from `next` up to and including the first required one.
uint64_t JsonMatcher::KeyCandidates(const JsonGrammar::Node& n, int32_t next) const {
  uint64_t m = 0;
  for (int32_t i = next; i < static_cast<int32_t>(n.props.size()); ++i) {
    m |= uint64_t{1} << i;
    if (n.props[i].required) break;
  }
  return m;
}

// Phases: 0 before '{', 1 after '{', 2 in a key (mask, pos), 3 before ':', 4 value start,
// 5 in the value, 6 after a value, 7 after ','. a = current property, b = next index.
JsonMatcher::Step JsonMatcher::FeedObject(Frame& f, uint8_t c, int32_t* push) {
  const auto& n = g_->nodes[f.node];
  auto can_close = [&] {
    for (size_t i = f.b; i < n.props.size(); ++i) {
      if (n.props[i].required) return false;
    }
    return true;
  };
  switch (f.phase) {
    case 0:
      if (c != '{') return Step::kReject;
      f.phase = 1;
      f.b = 0;
      return Step::kOk;
    case 1:
    case 6:
      if (c == '}' && can_close()) return Step::kOkPop;
      if (f.phase == 6) {
        if (c != ',' || KeyCandidates(n, f.b) == 0) return Step::kReject;
        f.phase = 7;
        return Step::kOk;
      }
      [[fallthrough]];
    case 7:
      f.mask = KeyCandidates(n, f.b);
      if (c != '"' || f.mask == 0) return Step::kReject;
      f.phase = 2;
      f.pos = 1;
      return Step::kOk;
    case 2: {
      uint64_t m = 0;
      int32_t done = -1;
      for (uint64_t rest = f.mask; rest; rest &= rest - 1) {
        int i = __builtin_ctzll(rest);
        const std::string& key = n.props[i].key;
        if (key.size() > f.pos && static_cast<uint8_t>(key[f.pos]) == c) {
          m |= uint64_t{1} << i;
          if (key.size() == f.pos + 1u) done = i;
        }
      }
      if (m == 0) return Step::kReject;
      f.mask = m;
      ++f.pos;
      if (done >= 0) {
        f.a = done;
        f.b = done + 1;
        f.phase = 3;
      }
      return Step::kOk;
    }
    case 3:
      if (c != ':') return Step::kReject;
      f.phase = 4;
      return Step::kOk;
    case 4:
      *push = n.props[f.a].node;
      f.phase = 5;
      return Step::kPush;
  }
  return Step::kReject;
}

// Phases: 0 before '{', 1 after '{', 2 in a key, 3 before ':', 4 value start, 5 in the value,
// 6 after a value, 7 after ','.
JsonMatcher::Step JsonMatcher::FeedAnyObject(Frame& f, uint8_t c, int32_t* push) {
  switch (f.phase) {
    case 0:
      if (c != '{') return Step::kReject;
      f.phase = 1;
      return Step::kOk;
    case 1:
    case 7:
      if (c == '}' && f.phase == 1) return Step::kOkPop;
      *push = g_->string;
      f.phase = 2;
      return Step::kPush;
    case 3:
      if (c != ':') return Step::kReject;
      f.phase = 4;
      return Step::kOk;
    case 4:
      *push = g_->any;
      f.phase = 5;
      return Step::kPush;
    case 6:
      if (c == '}') return Step::kOkPop;
      if (c != ',') return Step::kReject;
      f.phase = 7;
      return Step::kOk;
  }
  return Step::kReject;
}

// Phases: 0 before '[', 1 after '[', 2 in an item, 3 after an item, 4 after ','.
JsonMatcher::Step JsonMatcher::FeedArray(Frame& f, uint8_t c, int32_t* push) {
  switch (f.phase) {
    case 0:
      if (c != '[') return Step::kReject;
      f.phase = 1;
      return Step::kOk;
    case 1:
    case 4:
      if (c == ']' && f.phase == 1) return Step::kOkPop;
      *push = g_->nodes[f.node].child;
      f.phase = 2;
      return Step::kPush;
    case 3:
      if (c == ']') return Step::kOkPop;
      if (c != ',') return Step::kReject;
      f.phase = 4;
      return Step::kOk;
  }
  return Step::kReject;
}

}  // namespace cachet::sampling
