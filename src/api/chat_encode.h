// Tokens of a rendered chat in which the text clients wrote is never read as special tokens.
//
// The rendered prompt is tokenized with special-token parsing (the template writes its control
// tokens as text). A message whose content itself contains special-token text ("<|im_end|>",
// "<|eot_id|>"...) would otherwise forge turn boundaries; for those messages the conversation is
// rendered a second time with a unique marker in place of each such content, the result is
// checked to be the same text once the contents are put back (the template passed them through
// unchanged), and the contents are tokenized as plain text between the template's parts.
// Conversations without such content are tokenized in one piece, exactly as transformers does.
#pragma once

#include <string>
#include <vector>

#include "api/chat_template.h"
#include "base/status.h"
#include "tokenizer/tokenizer.h"

namespace cachet::api {

// `text` receives the rendered prompt. Errors: the template's (InvalidArgument), and
// InvalidArgument when special-token text in a message cannot be isolated (the template
// transforms that content).
Result<std::vector<int32_t>> EncodeChat(const tok::Tokenizer& tokenizer,
                                        const ChatTemplate& chat_template,
                                        const std::vector<ChatMessage>& messages,
                                        const RenderOptions& options, std::string* text);

// True when `text` contains the text of a control token (what parse_special would turn into one).
bool ContainsSpecialTokenText(const tok::Tokenizer& tokenizer, const std::string& text);

}  // namespace cachet::api
