#include "domain/search.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "domain/permissions.h"

namespace outpost::domain {
namespace {

// "2026-11-23" -> milliseconds at 00:00 UTC that day; false for anything else.
bool ParseDate(std::string_view text, UnixMillis* out) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  struct tm tm = {};
  tm.tm_year = std::stoi(std::string(text.substr(0, 4))) - 1900;
  tm.tm_mon = std::stoi(std::string(text.substr(5, 2))) - 1;
  tm.tm_mday = std::stoi(std::string(text.substr(8, 2)));
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31) return false;
  struct tm copy = tm;
  time_t t = timegm(&copy);
  // timegm normalizes 2026-02-31 to March: refuse dates that do not exist.
  if (copy.tm_mday != tm.tm_mday || copy.tm_mon != tm.tm_mon) return false;
  *out = static_cast<UnixMillis>(t) * 1000;
  return true;
}

// A word is searchable when the tokenizer will keep something of it.
bool HasWordCharacter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80;
  });
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<SearchQuery> ParseSearchQuery(std::string_view text) {
  if (text.size() > 1000) return Status::InvalidArgument("the search is too long");
  SearchQuery q;
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '"') {
      size_t close = text.find('"', i + 1);
      if (close == std::string_view::npos) {
        return Status::InvalidArgument("a quotation mark is not closed");
      }
      std::string_view phrase = text.substr(i + 1, close - i - 1);
      if (HasWordCharacter(phrase)) parts.push_back(Quote(phrase));
      i = close + 1;
      continue;
    }
    size_t end = i;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    std::string_view word = text.substr(i, end - i);
    i = end;
    size_t colon = word.find(':');
    if (colon != std::string_view::npos && colon > 0) {
      std::string key(word.substr(0, colon));
      std::string_view value = word.substr(colon + 1);
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (key == "from" || key == "in" || key == "before" || key == "after" || key == "has") {
        if (value.empty()) return Status::InvalidArgument(key + ": needs a value");
        if (key == "from") {
          q.from = std::string(value.front() == '@' ? value.substr(1) : value);
        } else if (key == "in") {
          q.in = std::string(value.front() == '#' ? value.substr(1) : value);
        } else if (key == "has") {
          if (value != "file") return Status::InvalidArgument("has: takes only 'file'");
          q.has_file = true;
        } else {
          UnixMillis t = 0;
          if (!ParseDate(value, &t)) {
            return Status::InvalidArgument(key + ": takes a date as YYYY-MM-DD");
          }
          if (key == "before") q.before = t;
          else q.after = t;
        }
        continue;
      }
    }
    if (!HasWordCharacter(word)) continue;
    if (word.size() > 1 && word.back() == '*') {
      parts.push_back(Quote(word.substr(0, word.size() - 1)) + " *");
    } else {
      parts.push_back(Quote(word));
    }
  }
  for (size_t k = 0; k < parts.size(); ++k) q.fts += (k ? " " : "") + parts[k];
  if (q.fts.empty() && q.from.empty() && q.in.empty() && !q.has_file && !q.before && !q.after) {
    return Status::InvalidArgument("nothing to search for");
  }
  return q;
}

Result<SearchPage> Search::Run(const User& actor, const SearchQuery& q, SearchOrder order,
                               int64_t offset, int limit) {
  limit = std::clamp(limit, 1, 100);
  offset = std::max<int64_t>(offset, 0);
  SearchPage page;
  struct Found {
    int64_t id;
    std::string snippet, room_name;
  };
  std::vector<Found> found;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    bool fts = !q.fts.empty();
    std::string sql =
        fts ? std::string("SELECT m.id, snippet(messages_fts, 0, '") + kMatchStart + "', '" +
                  kMatchEnd + "', '\xe2\x80\xa6', 16), "
                  "(SELECT coalesce(name, '') FROM rooms WHERE id = m.room_id) "
                  "FROM messages_fts f JOIN messages m ON "
                              "m.id = f.rowid WHERE messages_fts MATCH :fts AND "
            : std::string("SELECT m.id, substr(m.body, 1, 200), (SELECT coalesce(name, '') "
                          "FROM rooms WHERE id = m.room_id) FROM messages m WHERE ");
    // Public channels one is not in are searchable only by those who may browse them (not
    // guests or bots: they see the rooms they are in; domain/permissions.h).
    sql += RoleHas(actor.role, Permission::kRoomsBrowseDirectory)
               ? "m.deleted_at IS NULL AND m.room_id IN (SELECT room_id FROM room_members WHERE "
                 "user_id = :me UNION SELECT id FROM rooms WHERE kind = 'public')"
               : "m.deleted_at IS NULL AND m.room_id IN (SELECT room_id FROM room_members WHERE "
                 "user_id = :me)";
    if (!q.from.empty()) {
      sql += " AND m.author_id = (SELECT id FROM users WHERE username = :from)";
    }
    if (!q.in.empty()) sql += " AND m.room_id = (SELECT id FROM rooms WHERE name = :in)";
    if (q.before) sql += " AND m.created_at < :before";
    if (q.after) sql += " AND m.created_at >= :after";
    if (q.has_file) sql += " AND m.has_file = 1";
    if (fts && order == SearchOrder::kBest) sql += " ORDER BY f.rank";
    else sql += fts ? " ORDER BY f.rowid DESC" : " ORDER BY m.id DESC";
    sql += " LIMIT :limit OFFSET :offset";
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(sql));
    int idx = 1;
    if (fts) s.Bind(idx++, q.fts);
    s.Bind(idx++, actor.id);
    if (!q.from.empty()) s.Bind(idx++, q.from);
    if (!q.in.empty()) s.Bind(idx++, q.in);
    if (q.before) s.Bind(idx++, q.before);
    if (q.after) s.Bind(idx++, q.after);
    s.Bind(idx, int64_t{limit} + 1);
    s.Bind(idx + 1, offset);
    while (true) {
      Result<bool> row = s.Step();
      if (!row.ok()) {
        // FTS5 rejects some inputs that survive quoting (e.g. a lone "*"): the user's fault.
        return Status::InvalidArgument("the search could not be understood");
      }
      if (!*row) break;
      found.push_back({s.ColumnInt64(0), s.ColumnText(1), s.ColumnText(2)});
    }
    if (static_cast<int>(found.size()) > limit) {
      found.pop_back();
      page.next_offset = offset + limit;
    }
    // The messages are read in the same snapshot as the matches: nothing found can vanish or
    // change between the two.
    std::vector<int64_t> ids;
    for (const Found& f : found) ids.push_back(f.id);
    OUTPOST_ASSIGN_OR_RETURN(std::vector<Message> loaded,
                             messages_->LoadMany(conn, ids, actor.id));
    for (Message& m : loaded) {
      auto f = std::find_if(found.begin(), found.end(),
                            [&](const Found& x) { return x.id == m.id; });
      SearchHit hit;
      hit.message = std::move(m);
      hit.snippet = std::move(f->snippet);
      hit.room_name = std::move(f->room_name);
      page.hits.push_back(std::move(hit));
    }
    return Status::Ok();
  }));
  return page;
}

}  // namespace outpost::domain
