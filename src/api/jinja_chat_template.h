// ChatTemplate over the model's own Jinja chat template (src/tokenizer/jinja), rendered as
// transformers' apply_chat_template does: messages (tool-call arguments as objects), tools in the
// OpenAI function shape, add_generation_prompt, bos/eos tokens, enable_thinking/thinking.
// Assistant prefix completion (continue_final_message) renders the conversation without a
// generation prompt and cuts right after the final message's content, as transformers does.
#pragma once

#include <memory>
#include <string>

#include "api/chat_template.h"
#include "base/status.h"

namespace cachet::api {

// Errors: the template's parse errors (InvalidArgument / Unsupported naming the line).
Result<std::unique_ptr<ChatTemplate>> MakeJinjaChatTemplate(const std::string& source,
                                                            const std::string& bos_token,
                                                            const std::string& eos_token);

}  // namespace cachet::api
