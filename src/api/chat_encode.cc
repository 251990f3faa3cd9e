#include "api/chat_encode.h"

namespace cachet::api {

namespace {

// Private-use code points: not whitespace (templates trim content), not in any vocabulary's
// special tokens.
std::string Marker(size_t i) {
  return "\xEE\x80\x80"
         "cachet-content-" +
         std::to_string(i) + "\xEE\x80\x81";
}

void Append(std::vector<int32_t>* out, const std::vector<int32_t>& ids) {
  out->insert(out->end(), ids.begin(), ids.end());
}

}  // namespace

bool ContainsSpecialTokenText(const tok::Tokenizer& t, const std::string& text) {
  if (text.find('<') == std::string::npos && text.find('[') == std::string::npos) return false;
  const auto& types = t.spec().token_types;
  for (int32_t id : t.Encode(text, /*add_bos=*/false, /*parse_special=*/true)) {
    if (id >= 0 && static_cast<size_t>(id) < types.size() &&
        (types[id] == tok::TokenType::kControl || types[id] == tok::TokenType::kUnknown)) {
      return true;
    }
  }
  return false;
}

Result<std::vector<int32_t>> EncodeChat(const tok::Tokenizer& t, const ChatTemplate& tpl,
                                        const std::vector<ChatMessage>& messages,
                                        const RenderOptions& options, std::string* text) {
  CACHET_ASSIGN_OR_RETURN(*text, tpl.Render(messages, options));
  std::vector<size_t> flagged;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (ContainsSpecialTokenText(t, messages[i].content)) flagged.push_back(i);
  }
  if (flagged.empty()) return t.Encode(*text, /*add_bos=*/false, /*parse_special=*/true);

  std::vector<ChatMessage> marked = messages;
  for (size_t i : flagged) marked[i].content = Marker(i);
  CACHET_ASSIGN_OR_RETURN(std::string with_markers, tpl.Render(marked, options));
  // Split at the markers (in order, each exactly once) and check the contents went through as is.
  std::vector<int32_t> ids;
  std::string rebuilt;
  size_t pos = 0;
  for (size_t i : flagged) {
    const std::string marker = Marker(i);
    const size_t at = with_markers.find(marker, pos);
    if (at == std::string::npos ||
        with_markers.find(marker, at + marker.size()) != std::string::npos) {
      return InvalidArgument("messages[" + std::to_string(i) +
                             "].content contains special-token text that this model's chat "
                             "template does not pass through unchanged");
    }
    const std::string part = with_markers.substr(pos, at - pos);
    Append(&ids, t.Encode(part, false, /*parse_special=*/true));
    Append(&ids, t.Encode(messages[i].content, false, /*parse_special=*/false));
    rebuilt += part + messages[i].content;
    pos = at + marker.size();
  }
  const std::string rest = with_markers.substr(pos);
  Append(&ids, t.Encode(rest, false, /*parse_special=*/true));
  rebuilt += rest;
  if (rebuilt != *text) {
    return InvalidArgument(
        "message content contains special-token text that this model's chat "
        "template does not pass through unchanged");
  }
  return ids;
}

}  // namespace cachet::api
