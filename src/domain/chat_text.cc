#include "domain/chat_text.h"

#include <algorithm>
#include <cctype>

#include "domain/passwords.h"

namespace outpost::domain {
namespace {

// Decodes the code points of valid UTF-8 `text` (checked by the caller with Utf8Length).
std::vector<uint32_t> CodePoints(std::string_view text) {
  std::vector<uint32_t> out;
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len && i + k < text.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

bool IsControl(uint32_t cp, bool allow_newline) {
  if (cp == '\n' && allow_newline) return false;
  if (cp == '\t' && allow_newline) return false;
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0);
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

bool IsPictographic(uint32_t cp) {
  return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
         (cp >= 0x2300 && cp <= 0x23FF) || (cp >= 0x2B00 && cp <= 0x2BFF) ||
         (cp >= 0x2190 && cp <= 0x21FF) || (cp >= 0x25A0 && cp <= 0x25FF) || cp == 0x00A9 ||
         cp == 0x00AE || cp == 0x203C || cp == 0x2049 || cp == 0x2122 || cp == 0x2139 ||
         cp == 0x3030 || cp == 0x303D || cp == 0x3297 || cp == 0x3299;
}

// Code points that only modify or join pictographs.
bool IsEmojiComponent(uint32_t cp) {
  return cp == 0x200D || cp == 0xFE0F || cp == 0xFE0E || cp == 0x20E3 ||
         (cp >= 0xE0020 && cp <= 0xE007F);
}

}  // namespace

Status CheckMessageBody(std::string_view body, int max_chars) {
  int len = Utf8Length(body);
  if (len < 0) return Status::InvalidArgument("the message is not valid UTF-8 text");
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return Status::InvalidArgument("the message is empty");
  if (len > max_chars) {
    return Status::InvalidArgument("the message is longer than " + std::to_string(max_chars) +
                                   " characters");
  }
  for (uint32_t cp : CodePoints(body)) {
    if (cp != '\r' && IsControl(cp, true)) {
      return Status::InvalidArgument("the message contains a control character");
    }
  }
  return Status::Ok();
}

Status CheckRoomName(std::string_view name) {
  if (name.empty() || name.size() > 80) {
    return Status::InvalidArgument("a channel name must be 1 to 80 characters long");
  }
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) {
    return Status::InvalidArgument("a channel name must start with a letter or a digit");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.';
    if (!ok) {
      return Status::InvalidArgument(
          "a channel name may hold only lower-case letters, digits, '-', '_' and '.'");
    }
  }
  return Status::Ok();
}

Status CheckRoomText(std::string_view text, int max_chars, std::string_view what) {
  int len = Utf8Length(text);
  if (len < 0) return Status::InvalidArgument(std::string(what) + " is not valid UTF-8 text");
  if (len > max_chars) {
    return Status::InvalidArgument(std::string(what) + " is longer than " +
                                   std::to_string(max_chars) + " characters");
  }
  for (uint32_t cp : CodePoints(text)) {
    if (IsControl(cp, true) && cp != '\n') {
      return Status::InvalidArgument(std::string(what) + " contains a control character");
    }
  }
  return Status::Ok();
}

Mentions ParseMentions(std::string_view body) {
  Mentions m;
  size_t i = 0;
  bool in_fence = false;
  bool at_line_start = true;
  while (i < body.size()) {
    if (at_line_start && body.substr(i, 3) == "```") {
      in_fence = !in_fence;
      size_t eol = body.find('\n', i);
      i = eol == std::string_view::npos ? body.size() : eol + 1;
      continue;
    }
    char c = body[i];
    at_line_start = c == '\n';
    if (in_fence) {
      ++i;
      continue;
    }
    if (c == '`') {
      size_t close = body.find('`', i + 1);
      i = close == std::string_view::npos ? body.size() : close + 1;
      continue;
    }
    if (c == '@' && (i == 0 || !IsNameChar(body[i - 1]))) {
      size_t j = i + 1;
      while (j < body.size() && IsNameChar(body[j]) && j - i <= 64) ++j;
      // A trailing '.' or '-' is punctuation ("thanks @bob."), not part of the name.
      while (j > i + 1 && (body[j - 1] == '.' || body[j - 1] == '-')) --j;
      if (j > i + 1) {
        std::string name(body.substr(i + 1, j - i - 1));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        if (name == "here") {
          m.here = true;
        } else if (name == "all" || name == "channel") {
          m.all = true;
        } else if (std::isalnum(static_cast<unsigned char>(name[0])) &&
                   std::find(m.users.begin(), m.users.end(), name) == m.users.end()) {
          m.users.push_back(name);
        }
      }
      i = j;
      continue;
    }
    ++i;
  }
  return m;
}

Status CheckEmoji(std::string_view emoji) {
  const Status bad = Status::InvalidArgument("a reaction must be a single emoji");
  if (emoji.empty() || emoji.size() > 64 || Utf8Length(emoji) < 0) return bad;
  std::vector<uint32_t> cps = CodePoints(emoji);
  bool pictograph = false;
  for (size_t k = 0; k < cps.size(); ++k) {
    uint32_t cp = cps[k];
    if (IsPictographic(cp)) {
      pictograph = true;
    } else if (IsEmojiComponent(cp)) {
      if (k == 0) return bad;
    } else if ((cp >= '0' && cp <= '9') || cp == '#' || cp == '*') {
      // Keycaps: a digit, '#' or '*' followed by an optional VS16 and U+20E3.
      size_t next = k + 1;
      if (next < cps.size() && cps[next] == 0xFE0F) ++next;
      if (next >= cps.size() || cps[next] != 0x20E3) return bad;
      pictograph = true;
    } else {
      return bad;
    }
  }
  return pictograph ? Status::Ok() : bad;
}

}  // namespace outpost::domain
