#include "model/text_cleanup.h"

#include <unicode/translit.h>
#include <unicode/uchar.h>
#include <unicode/locid.h>
#include <unicode/ucnv.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <map>
#include <memory>
#include <mutex>

#include "util/errors.h"

namespace untwist {

std::string utf8_problem(const std::string& text) {
  if (text.size() > static_cast<size_t>(INT32_MAX)) return "longer than 2 GiB";
  int32_t i = 0;
  const int32_t length = static_cast<int32_t>(text.size());
  while (i < length) {
    UChar32 c;
    U8_NEXT(reinterpret_cast<const uint8_t*>(text.data()), i, length, c);
    if (c < 0) return "not valid UTF-8 (bad byte at offset " + std::to_string(i - 1) + ")";
  }
  return "";
}

namespace {

icu::UnicodeString from_utf8(const std::string& text) {
  const std::string problem = utf8_problem(text);
  if (!problem.empty()) throw DataError("text is " + problem);
  return icu::UnicodeString::fromUTF8(text);
}

std::string to_utf8(const icu::UnicodeString& text) {
  std::string out;
  text.toUTF8String(out);
  return out;
}

// ftfy's fix_encoding for the common case: UTF-8 bytes that were decoded as
// Windows-1252 ("cafÃ©"). Undone only when every character maps back to one
// byte and those bytes are valid UTF-8 that is shorter.
icu::UnicodeString fix_mojibake(const icu::UnicodeString& text) {
  bool suspicious = false;
  for (int32_t i = 0; i < text.length(); ++i) suspicious = suspicious || (text[i] >= 0x80);
  if (!suspicious) return text;
  UErrorCode status = U_ZERO_ERROR;
  UConverter* converter = ucnv_open("windows-1252", &status);
  if (U_FAILURE(status)) return text;
  ucnv_setFromUCallBack(converter, UCNV_FROM_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &status);
  std::string bytes(static_cast<size_t>(text.length()) * 4 + 4, '\0');
  const int32_t written = ucnv_fromUChars(converter, bytes.data(), static_cast<int32_t>(bytes.size()),
                                          text.getBuffer(), text.length(), &status);
  ucnv_close(converter);
  if (U_FAILURE(status)) return text;
  bytes.resize(static_cast<size_t>(written));
  int32_t i = 0;
  const int32_t length = static_cast<int32_t>(bytes.size());
  while (i < length) {
    UChar32 c;
    U8_NEXT(reinterpret_cast<const uint8_t*>(bytes.data()), i, length, c);
    if (c < 0) return text;
  }
  icu::UnicodeString fixed = icu::UnicodeString::fromUTF8(bytes);
  return fixed.length() < text.length() ? fixed : text;
}

// NFC; NFKC for full-width forms and Latin ligatures only; straight quotes.
const icu::Transliterator& character_fixes() {
  static std::once_flag once;
  static std::unique_ptr<icu::Transliterator> transliterator;
  std::call_once(once, [] {
    const icu::UnicodeString rules = icu::UnicodeString::fromUTF8(
        ":: NFC ;"
        ":: [[\\uFF01-\\uFF5E][\\uFB00-\\uFB06]] NFKC ;"
        "[\\u2018\\u2019\\u201A\\u201B] > \\' ;"
        "[\\u201C\\u201D\\u201E\\u201F] > \\\" ;");
    UParseError parse_error;
    UErrorCode status = U_ZERO_ERROR;
    transliterator.reset(
        icu::Transliterator::createFromRules("untwist-ftfy", rules, UTRANS_FORWARD, parse_error, status));
    if (U_FAILURE(status)) throw std::runtime_error("ICU rejected the text clean-up rules");
  });
  return *transliterator;
}

const std::map<std::string, std::string>& named_entities() {
  static const std::map<std::string, std::string> entities = {
      {"amp", "&"},       {"lt", "<"},        {"gt", ">"},       {"quot", "\""},     {"apos", "'"},
      {"nbsp", "\u00A0"}, {"copy", "\u00A9"}, {"reg", "\u00AE"}, {"trade", "\u2122"}, {"hellip", "\u2026"},
      {"mdash", "\u2014"}, {"ndash", "\u2013"}, {"lsquo", "\u2018"}, {"rsquo", "\u2019"}, {"ldquo", "\u201C"},
      {"rdquo", "\u201D"}, {"deg", "\u00B0"}, {"times", "\u00D7"}, {"eacute", "\u00E9"}, {"euro", "\u20AC"}};
  return entities;
}

std::string code_point_utf8(uint32_t c) {
  icu::UnicodeString s;
  s.append(static_cast<UChar32>(c));
  return to_utf8(s);
}

}  // namespace

std::string fix_text(const std::string& text) {
  icu::UnicodeString u = fix_mojibake(from_utf8(text));
  character_fixes().transliterate(u);
  return to_utf8(u);
}

std::string unescape_html(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t semicolon = text[i] == '&' ? text.find(';', i) : std::string::npos;
    if (semicolon != std::string::npos && semicolon - i <= 12) {
      const std::string name = text.substr(i + 1, semicolon - i - 1);
      if (name.size() > 1 && name[0] == '#') {
        const bool hex = name[1] == 'x' || name[1] == 'X';
        const std::string digits = name.substr(hex ? 2 : 1);
        char* end = nullptr;
        const unsigned long value = digits.empty() ? 0 : std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
        if (!digits.empty() && end && *end == '\0' && value > 0 && value <= 0x10FFFF &&
            !(value >= 0xD800 && value <= 0xDFFF)) {
          out += code_point_utf8(static_cast<uint32_t>(value));
          i = semicolon + 1;
          continue;
        }
      } else if (const auto it = named_entities().find(name); it != named_entities().end()) {
        out += it->second;
        i = semicolon + 1;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

std::string clip_clean_text(const std::string& text) {
  const std::string unescaped = unescape_html(unescape_html(fix_text(text)));
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(unescaped);
  icu::UnicodeString folded;
  bool pending_space = false;
  for (int32_t i = 0; i < u.length();) {
    const UChar32 c = u.char32At(i);
    i += U16_LENGTH(c);
    if (u_isUWhiteSpace(c) || (c >= 0x1C && c <= 0x1F)) {
      pending_space = true;
      continue;
    }
    if (pending_space && !folded.isEmpty()) folded.append(static_cast<UChar>(' '));
    pending_space = false;
    folded.append(c);
  }
  folded.toLower(icu::Locale::getRoot());
  return to_utf8(folded);
}

}  // namespace untwist
