#include "tokenizer/parsers/stages.h"

namespace cachet::parsers {

ReasoningSplitter::ReasoningSplitter(std::string start, std::string end, bool starts_in_reasoning)
    : start_(std::move(start)),
      end_(std::move(end)),
      state_(starts_in_reasoning ? State::kReasoning : State::kStart) {}

void ReasoningSplitter::Feed(std::string_view text, std::vector<OutputEvent>* out,
                             std::string* content) {
  buf_.append(text);
  if (state_ == State::kStart) {
    size_t i = start_scanned_;  // leading whitespace already seen
    while (i < buf_.size() && IsSpace(buf_[i])) ++i;
    start_scanned_ = i;
    std::string_view rest = std::string_view(buf_).substr(i);
    if (rest.size() >= start_.size() && rest.substr(0, start_.size()) == start_) {
      buf_.erase(0, i + start_.size());
      state_ = State::kReasoning;
      strip_leading_ = true;
    } else if (rest.size() < start_.size() &&
               std::string_view(start_).substr(0, rest.size()) == rest) {
      return;  // still could be "<think>"
    } else {
      state_ = State::kContent;
      strip_leading_ = false;
    }
  }
  if (state_ == State::kReasoning) Reasoning(out, content);
  if (state_ == State::kContent) {
    if (strip_leading_) {
      size_t i = 0;
      while (i < buf_.size() && IsSpace(buf_[i])) ++i;
      buf_.erase(0, i);
      if (!buf_.empty()) strip_leading_ = false;
    }
    content->append(buf_);
    buf_.clear();
  }
}

void ReasoningSplitter::Reasoning(std::vector<OutputEvent>* out, std::string* content) {
  (void)content;
  if (strip_leading_) {
    size_t i = 0;
    while (i < buf_.size() && IsSpace(buf_[i])) ++i;
    buf_.erase(0, i);
    if (!buf_.empty()) strip_leading_ = false;
  }
  auto emit = [&](std::string_view r) {
    if (r.empty()) return;
    if (!out->empty() && out->back().kind == OutputEvent::Kind::kReasoning) {
      out->back().text.append(r);
      return;
    }
    OutputEvent e;
    e.kind = OutputEvent::Kind::kReasoning;
    e.text = std::string(r);
    out->push_back(std::move(e));
  };
  // buf_ holds at most a partial end marker from before plus the new text; whitespace that may
  // turn out to be trailing (dropped before the end marker) waits in pending_ws_.
  auto emit_region = [&](std::string_view r, bool at_end) {
    size_t e = r.size();
    while (e > 0 && IsSpace(r[e - 1])) --e;
    if (e == 0) {
      if (!at_end) pending_ws_.append(r);
      return;
    }
    emit(pending_ws_);
    pending_ws_.clear();
    emit(r.substr(0, e));
    if (!at_end) pending_ws_.assign(r.substr(e));
  };
  size_t pos = buf_.find(end_);
  if (pos != std::string::npos) {
    emit_region(std::string_view(buf_).substr(0, pos), /*at_end=*/true);
    pending_ws_.clear();
    buf_.erase(0, pos + end_.size());
    state_ = State::kContent;
    strip_leading_ = true;
    return;
  }
  size_t keep_from = buf_.size() - PartialMarkerSuffix(buf_, end_);
  emit_region(std::string_view(buf_).substr(0, keep_from), /*at_end=*/false);
  buf_.erase(0, keep_from);
}

void ReasoningSplitter::Finish(std::vector<OutputEvent>* out, std::string* content) {
  if (state_ == State::kStart) {
    content->append(buf_);
  } else if (state_ == State::kReasoning) {
    // The output ended inside reasoning: a held partial marker is reasoning text.
    std::string_view r = buf_;
    while (!r.empty() && IsSpace(r.back())) r.remove_suffix(1);
    if (!r.empty()) {
      OutputEvent ev;
      ev.kind = OutputEvent::Kind::kReasoning;
      ev.text = pending_ws_ + std::string(r);
      out->push_back(std::move(ev));
    }
    pending_ws_.clear();
  } else if (!strip_leading_) {
    content->append(buf_);
  }
  buf_.clear();
}

}  // namespace cachet::parsers
