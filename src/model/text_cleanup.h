// The text clean-up the CLIP reference tokenizer applies before BPE:
// ftfy's fixes that matter for prompts (mojibake from UTF-8 read as
// Windows-1252, NFC, full-width forms and Latin ligatures to plain letters,
// curly quotes to straight ones), HTML unescaping (twice, as OpenAI's
// tokenizer does), whitespace folding and lower case. Built on ICU.
#pragma once
#include <string>

namespace untwist {

// Empty when `text` is valid UTF-8, else what is wrong ("not valid UTF-8 (bad byte at offset 4)").
std::string utf8_problem(const std::string& text);

// UTF-8 in, UTF-8 out; DataError on invalid UTF-8.
std::string clip_clean_text(const std::string& text);

// The ftfy part alone (no unescaping, folding or lower case).
std::string fix_text(const std::string& text);

// HTML character references: &#NN;, &#xNN; and the named entities prompts use.
std::string unescape_html(const std::string& text);

}  // namespace untwist
