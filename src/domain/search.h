// Full-text search over the messages a user may read (SQLite FTS5), with the query language
// users know from Slack and Mattermost: words, "phrases", prefix*, and the filters from:,
// in:, before:, after: and has:file.
#ifndef OUTPOST_DOMAIN_SEARCH_H_
#define OUTPOST_DOMAIN_SEARCH_H_

#include <string>
#include <vector>

#include "domain/messages.h"

namespace outpost::domain {

// Snippets mark matches with these private-use characters (U+E000 ... U+E001), never with
// HTML: the client escapes the text first and then turns the marks into highlighting.
inline constexpr const char* kMatchStart = "\xee\x80\x80";
inline constexpr const char* kMatchEnd = "\xee\x80\x81";

struct SearchQuery {
  std::string fts;          // an FTS5 expression built only from quoted strings; "" for none
  std::string from;         // user name
  std::string in;           // channel name
  UnixMillis before = 0;    // created before this instant (exclusive)
  UnixMillis after = 0;     // created at or after this instant
  bool has_file = false;
};

// Parses what the user typed. InvalidArgument with the problem for unbalanced quotes, a bad
// date ("before:2026-13-01"), an unknown has: value, or a query with nothing to search for.
Result<SearchQuery> ParseSearchQuery(std::string_view text);

enum class SearchOrder { kNewest, kBest };

struct SearchHit {
  Message message;
  std::string room_name;  // "" for DMs
  std::string snippet;    // with kMatchStart/kMatchEnd around matches
};

struct SearchPage {
  std::vector<SearchHit> hits;
  int64_t next_offset = -1;  // for the next page; -1 when there is none
};

// Thread-safe. Searches public channels and the rooms the actor is a member of; deleted
// messages are never found (the index drops them with the text).
class Search {
 public:
  Search(storage::Database* db, Messages* messages) : db_(db), messages_(messages) {}
  Result<SearchPage> Run(const User& actor, const SearchQuery& query, SearchOrder order,
                         int64_t offset, int limit);

 private:
  storage::Database* const db_;
  Messages* const messages_;
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_SEARCH_H_
