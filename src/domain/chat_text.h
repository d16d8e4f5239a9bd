// Text rules of chat: message bodies, room names, mentions and reaction emoji. Pure functions:
// thread-safe, no I/O.
#ifndef OUTPOST_DOMAIN_CHAT_TEXT_H_
#define OUTPOST_DOMAIN_CHAT_TEXT_H_

#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace outpost::domain {

// A message body: valid UTF-8, 1..max_chars characters after trimming white space, no NUL or
// other control characters than tab and newline. InvalidArgument naming the rule otherwise.
Status CheckMessageBody(std::string_view body, int max_chars);

// A channel name: 1..80 characters of lower-case letters, digits, '-', '_' and '.', starting
// with a letter or digit (like Slack and Mattermost, so that #name is unambiguous).
Status CheckRoomName(std::string_view name);

// Topic (0..250 characters) and description (0..1000): UTF-8 without control characters
// other than newline.
Status CheckRoomText(std::string_view text, int max_chars, std::string_view what);

// Who a message mentions. User names are lower-cased and unique, in order of appearance.
struct Mentions {
  std::vector<std::string> users;
  bool here = false;
  bool all = false;
};

// Finds @name, @here, @all (also @channel, Slack's synonym of @all). A mention starts at the
// beginning or after a character that cannot be part of a name, so e-mail addresses
// (bob@example.mil) are not mentions; text in `code` spans and fenced blocks is skipped.
Mentions ParseMentions(std::string_view body);

// A reaction: one emoji as the client sends it (a code point sequence with modifiers,
// variation selectors, ZWJ joins, keycaps, flags), at most 64 bytes. Refuses plain text.
Status CheckEmoji(std::string_view emoji);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_CHAT_TEXT_H_
