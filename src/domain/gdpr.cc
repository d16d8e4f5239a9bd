#include "domain/gdpr.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "domain/audit.h"
#include "util/crypto.h"
#include "util/fs.h"

namespace outpost::domain {
namespace {

constexpr size_t kTarBlock = 512;

nlohmann::json TimeOrNull(UnixMillis t) { return t ? nlohmann::json(FormatIso8601(t)) : nullptr; }

Status NoSuchUser(std::string_view username) {
  return Status::NotFound("no user named '" + std::string(username) + "'");
}

// At most `max` bytes of `text`, cut on a UTF-8 character boundary.
std::string CutUtf8(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

// A POSIX ustar archive written sequentially to a file descriptor. Sizes of 8 GiB and more
// use the base-256 size field that GNU tar, bsdtar and Python read. Not thread-safe.
class TarWriter {
 public:
  explicit TarWriter(int fd) : fd_(fd) {}

  // Starts a member: `prefix` (<= 155 bytes) and `name` (<= 100 bytes) are joined with '/'.
  Status Begin(const std::string& prefix, const std::string& name, int64_t size,
               UnixMillis mtime) {
    if (prefix.size() > 155 || name.size() > 100 || name.empty()) {
      return Status::Internal("tar member name too long: " + prefix + "/" + name);
    }
    char h[kTarBlock] = {};
    std::memcpy(h, name.data(), name.size());
    Octal(h + 100, 8, 0600);
    Octal(h + 108, 8, 0);
    Octal(h + 116, 8, 0);
    if (size < (int64_t{1} << 33)) {
      Octal(h + 124, 12, size);
    } else {
      h[124] = static_cast<char>(0x80);
      for (int i = 0; i < 8; ++i) h[135 - i] = static_cast<char>((size >> (8 * i)) & 0xff);
    }
    Octal(h + 136, 12, mtime > 0 ? mtime / 1000 : 0);
    std::memset(h + 148, ' ', 8);
    h[156] = '0';
    std::memcpy(h + 257, "ustar", 6);  // with its NUL
    std::memcpy(h + 263, "00", 2);
    std::memcpy(h + 345, prefix.data(), prefix.size());
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    Octal(h + 148, 7, sum);  // six digits and NUL, then a space
    h[155] = ' ';
    remaining_ = size;
    return WriteAll(h, kTarBlock);
  }

  Status Append(std::string_view bytes) {
    if (static_cast<int64_t>(bytes.size()) > remaining_) {
      return Status::Corruption("more bytes than the tar member's recorded size");
    }
    remaining_ -= static_cast<int64_t>(bytes.size());
    written_in_member_ += bytes.size();
    return WriteAll(bytes.data(), bytes.size());
  }

  // Ends the member: Corruption when fewer bytes came than announced.
  Status End() {
    if (remaining_ != 0) return Status::Corruption("fewer bytes than the tar member's size");
    size_t pad = (kTarBlock - written_in_member_ % kTarBlock) % kTarBlock;
    written_in_member_ = 0;
    static const char kZeros[kTarBlock] = {};
    return WriteAll(kZeros, pad);
  }

  // The two zero blocks that end an archive.
  Status Finish() {
    static const char kZeros[2 * kTarBlock] = {};
    return WriteAll(kZeros, sizeof(kZeros));
  }

  int64_t bytes() const { return total_; }

 private:
  // `width - 1` octal digits, zero-padded, then NUL (values that do not fit are cut to their
  // low digits; callers keep them in range).
  static void Octal(char* field, size_t width, int64_t value) {
    uint64_t v = static_cast<uint64_t>(value);
    for (size_t i = width - 1; i > 0; --i) {
      field[i - 1] = static_cast<char>('0' + (v & 7));
      v >>= 3;
    }
    field[width - 1] = '\0';
  }

  Status WriteAll(const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoStatus("writing the export", errno);
      p += w;
      n -= static_cast<size_t>(w);
      total_ += w;
    }
    return Status::Ok();
  }

  int fd_;
  int64_t remaining_ = 0;
  uint64_t written_in_member_ = 0;
  int64_t total_ = 0;
};

struct ExportedFile {
  int64_t id = 0;
  int64_t size = 0;
  UnixMillis created_at = 0;
  std::string member;  // name inside files/
  std::string blob_name;
  std::string wrapped_key;
};

// Runs `sql` with `bind` applied and calls `row` for every result row.
template <typename Bind, typename Row>
Status ForEachRow(storage::Connection& conn, const char* sql, Bind bind, Row row) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(sql));
  bind(s);
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool more, s.Step());
    if (!more) return Status::Ok();
    row(s);
  }
}

}  // namespace

Result<ExportSummary> PersonalData::Export(std::string_view username,
                                           const ExportOptions& options) {
  if (options.out_path.empty()) return Status::InvalidArgument("no output file given");
  if (!options.force && PathExists(options.out_path)) {
    return Status::AlreadyExists(options.out_path +
                                 " already exists; give --force to replace it");
  }
  ExportSummary summary;
  summary.path = options.out_path;
  nlohmann::json doc;
  std::vector<ExportedFile> files;
  std::string name;
  // One read snapshot: the export is consistent with itself even while the server runs.
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement u,
        conn.Prepare("SELECT id, username, display_name, role, disabled, created_at, updated_at, "
                     "coalesce(password_changed_at, 0) FROM users WHERE username = ?"));
    u.Bind(1, username);
    OUTPOST_ASSIGN_OR_RETURN(bool found, u.Step());
    if (!found) return NoSuchUser(username);
    const int64_t uid = u.ColumnInt64(0);
    const UnixMillis created = u.ColumnInt64(5);
    name = u.ColumnText(1);
    summary.user_id = uid;
    doc["format"] = "outpost-personal-data-export";
    doc["format_version"] = 1;
    doc["exported_at"] = FormatIso8601(clock_->NowMillis());
    doc["profile"] = {{"id", uid},
                      {"username", name},
                      {"display_name", u.ColumnText(2)},
                      {"role", u.ColumnText(3)},
                      {"disabled", u.ColumnInt64(4) != 0},
                      {"created_at", FormatIso8601(created)},
                      {"updated_at", FormatIso8601(u.ColumnInt64(6))},
                      {"password_changed_at", TimeOrNull(u.ColumnInt64(7))}};
    auto by_user = [uid](storage::Statement& s) { s.Bind(1, uid); };

    nlohmann::json memberships = nlohmann::json::array();
    OUTPOST_RETURN_IF_ERROR(ForEachRow(
        conn,
        "SELECT m.room_id, r.kind, coalesce(r.name, ''), m.role, m.joined_at, m.last_read_seq, "
        "m.starred FROM room_members m JOIN rooms r ON r.id = m.room_id WHERE m.user_id = ? "
        "ORDER BY m.room_id",
        by_user, [&](storage::Statement& s) {
          memberships.push_back({{"room_id", s.ColumnInt64(0)},
                                 {"room_kind", s.ColumnText(1)},
                                 {"room_name", s.ColumnText(2)},
                                 {"role", s.ColumnText(3)},
                                 {"joined_at", FormatIso8601(s.ColumnInt64(4))},
                                 {"last_read_seq", s.ColumnInt64(5)},
                                 {"starred", s.ColumnInt64(6) != 0}});
        }));

    std::map<int64_t, nlohmann::json> edits;
    OUTPOST_RETURN_IF_ERROR(ForEachRow(
        conn,
        "SELECT e.message_id, e.kind, e.old_body, e.changed_at FROM message_edits e JOIN "
        "messages m ON m.id = e.message_id WHERE m.author_id = ? ORDER BY e.id",
        by_user, [&](storage::Statement& s) {
          edits[s.ColumnInt64(0)].push_back({{"kind", s.ColumnText(1)},
                                             {"old_body", s.ColumnText(2)},
                                             {"changed_at", FormatIso8601(s.ColumnInt64(3))}});
        }));
    nlohmann::json messages = nlohmann::json::array();
    OUTPOST_RETURN_IF_ERROR(ForEachRow(
        conn,
        "SELECT m.id, m.room_id, coalesce(r.name, ''), r.kind, m.seq, "
        "coalesce(m.thread_root_id, 0), m.body, m.created_at, coalesce(m.edited_at, 0), "
        "coalesce(m.deleted_at, 0) FROM messages m JOIN rooms r ON r.id = m.room_id "
        "WHERE m.author_id = ? ORDER BY m.id",
        by_user, [&](storage::Statement& s) {
          int64_t id = s.ColumnInt64(0);
          nlohmann::json m = {{"id", id},
                              {"room_id", s.ColumnInt64(1)},
                              {"room_name", s.ColumnText(2)},
                              {"room_kind", s.ColumnText(3)},
                              {"seq", s.ColumnInt64(4)},
                              {"thread_root_id", s.ColumnInt64(5)},
                              {"body", s.ColumnText(6)},
                              {"created_at", FormatIso8601(s.ColumnInt64(7))},
                              {"edited_at", TimeOrNull(s.ColumnInt64(8))},
                              {"deleted_at", TimeOrNull(s.ColumnInt64(9))}};
          auto e = edits.find(id);
          m["edits"] = e == edits.end() ? nlohmann::json::array() : e->second;
          messages.push_back(std::move(m));
        }));

    nlohmann::json reactions = nlohmann::json::array();
    OUTPOST_RETURN_IF_ERROR(ForEachRow(
        conn,
        "SELECT message_id, emoji, created_at FROM reactions WHERE user_id = ? "
        "ORDER BY created_at, message_id",
        by_user, [&](storage::Statement& s) {
          reactions.push_back({{"message_id", s.ColumnInt64(0)},
                               {"emoji", s.ColumnText(1)},
                               {"created_at", FormatIso8601(s.ColumnInt64(2))}});
        }));

    nlohmann::json file_list = nlohmann::json::array();
    OUTPOST_RETURN_IF_ERROR(ForEachRow(
        conn,
        "SELECT f.id, f.room_id, coalesce(f.message_id, 0), f.name, f.size, f.content_type, "
        "f.created_at, b.name, b.wrapped_key FROM files f JOIN blobs b ON b.id = f.blob_id "
        "WHERE f.uploader_id = ? ORDER BY f.id",
        by_user, [&](storage::Statement& s) {
          ExportedFile f;
          f.id = s.ColumnInt64(0);
          f.size = s.ColumnInt64(4);
          f.created_at = s.ColumnInt64(6);
          f.member = CutUtf8(std::to_string(f.id) + "-" + s.ColumnText(3), 100);
          f.blob_name = s.ColumnText(7);
          f.wrapped_key = s.ColumnBlob(8);
          file_list.push_back({{"id", f.id},
                               {"room_id", s.ColumnInt64(1)},
                               {"message_id", s.ColumnInt64(2)},
                               {"name", s.ColumnText(3)},
                               {"size", f.size},
                               {"content_type", s.ColumnText(5)},
                               {"created_at", FormatIso8601(f.created_at)},
                               {"archive_path", "files/" + f.member}});
          summary.file_bytes += f.size;
          files.push_back(std::move(f));
        }));

    nlohmann::json sessions = nlohmann::json::array();
    OUTPOST_RETURN_IF_ERROR(ForEachRow(
        conn,
        "SELECT created_at, last_seen_at, expires_at, remote_addr, user_agent FROM sessions "
        "WHERE user_id = ? ORDER BY id",
        by_user, [&](storage::Statement& s) {
          sessions.push_back({{"created_at", FormatIso8601(s.ColumnInt64(0))},
                              {"last_seen_at", FormatIso8601(s.ColumnInt64(1))},
                              {"expires_at", FormatIso8601(s.ColumnInt64(2))},
                              {"remote_addr", s.ColumnText(3)},
                              {"user_agent", s.ColumnText(4)}});
        }));

    nlohmann::json tokens = nlohmann::json::array();
    OUTPOST_RETURN_IF_ERROR(ForEachRow(
        conn,
        "SELECT id, name, created_at, coalesce(last_used_at, 0), coalesce(expires_at, 0) "
        "FROM api_tokens WHERE user_id = ? ORDER BY id",
        by_user, [&](storage::Statement& s) {
          tokens.push_back({{"id", s.ColumnInt64(0)},
                            {"name", s.ColumnText(1)},
                            {"created_at", FormatIso8601(s.ColumnInt64(2))},
                            {"last_used_at", TimeOrNull(s.ColumnInt64(3))},
                            {"expires_at", TimeOrNull(s.ColumnInt64(4))}});
        }));

    // Records by them or naming them, from their account's creation on: an earlier account
    // with the same name or id was another person.
    nlohmann::json audit = nlohmann::json::array();
    const std::string audit_sql = std::string("SELECT ") + kAuditRecordColumns +
                                  " FROM audit_records WHERE ts_ms >= ? AND (actor_id = ? OR "
                                  "actor = ? COLLATE NOCASE OR target = ? COLLATE NOCASE) "
                                  "ORDER BY seq";
    OUTPOST_RETURN_IF_ERROR(ForEachRow(
        conn, audit_sql.c_str(),
        [&](storage::Statement& s) {
          s.Bind(1, created).Bind(2, uid).Bind(3, name).Bind(4, "user:" + name);
        },
        [&](storage::Statement& s) { audit.push_back(AuditRecordJson(ReadAuditRecord(s))); }));

    summary.memberships = static_cast<int64_t>(memberships.size());
    summary.messages = static_cast<int64_t>(messages.size());
    summary.reactions = static_cast<int64_t>(reactions.size());
    summary.files = static_cast<int64_t>(files.size());
    summary.sessions = static_cast<int64_t>(sessions.size());
    summary.tokens = static_cast<int64_t>(tokens.size());
    summary.audit_records = static_cast<int64_t>(audit.size());
    doc["memberships"] = std::move(memberships);
    doc["messages"] = std::move(messages);
    doc["reactions"] = std::move(reactions);
    doc["files"] = std::move(file_list);
    doc["sessions"] = std::move(sessions);
    doc["api_tokens"] = std::move(tokens);
    doc["audit_records"] = std::move(audit);
    return Status::Ok();
  }));

  // Written beside the target under a hidden name and renamed into place when complete.
  const std::string tmp = options.out_path + ".tmp-" + HexEncode(RandomBytes(6));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(tmp, errno);
  struct Cleanup {
    const std::string& path;
    int fd;
    bool keep = false;
    ~Cleanup() {
      if (fd >= 0) ::close(fd);
      if (!keep) ::unlink(path.c_str());
    }
  } cleanup{tmp, fd};
  ::fchmod(fd, 0600);  // whatever the umask
  const std::string top = "outpost-export-" + name;
  TarWriter tar(fd);
  std::string json = doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  OUTPOST_RETURN_IF_ERROR(tar.Begin("", top + "/user.json", static_cast<int64_t>(json.size()),
                                    clock_->NowMillis()));
  OUTPOST_RETURN_IF_ERROR(tar.Append(json));
  OUTPOST_RETURN_IF_ERROR(tar.End());
  WipeString(&json);
  for (const ExportedFile& f : files) {
    OUTPOST_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader,
                             BlobReader::Open(files_->root(), keys_, f.blob_name, f.wrapped_key));
    OUTPOST_RETURN_IF_ERROR(tar.Begin(top + "/files", f.member, f.size, f.created_at));
    std::string chunk;
    do {
      OUTPOST_RETURN_IF_ERROR(reader->Next(&chunk));
      Status st = tar.Append(chunk);
      WipeString(&chunk);
      if (!st.ok()) return st.WithContext("file " + std::to_string(f.id));
    } while (!reader->done());
    OUTPOST_RETURN_IF_ERROR(tar.End().WithContext("file " + std::to_string(f.id)));
  }
  OUTPOST_RETURN_IF_ERROR(tar.Finish());
  if (::fsync(fd) != 0) return ErrnoStatus(tmp, errno);
  ::close(cleanup.fd);
  cleanup.fd = -1;
  if (options.force) {
    if (::rename(tmp.c_str(), options.out_path.c_str()) != 0) {
      return ErrnoStatus(options.out_path, errno);
    }
  } else {
    // link() refuses an existing name atomically: a file that appeared meanwhile survives.
    if (::link(tmp.c_str(), options.out_path.c_str()) != 0) {
      int err = errno;
      if (err == EEXIST) {
        return Status::AlreadyExists(options.out_path +
                                     " already exists; give --force to replace it");
      }
      return ErrnoStatus(options.out_path, err);
    }
    ::unlink(tmp.c_str());
  }
  cleanup.keep = true;
  summary.archive_bytes = tar.bytes();
  return summary;
}

Result<EraseSummary> PersonalData::Erase(std::string_view username) {
  EraseSummary out;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) -> Status {
    out = EraseSummary{};
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement u,
                             conn.Prepare("SELECT id, role FROM users WHERE username = ?"));
    u.Bind(1, username);
    OUTPOST_ASSIGN_OR_RETURN(bool found, u.Step());
    if (!found) return NoSuchUser(username);
    const int64_t uid = u.ColumnInt64(0);
    out.user_id = uid;
    out.role = u.ColumnText(1);
    if (out.role == kRoleAdmin) {
      OUTPOST_ASSIGN_OR_RETURN(storage::Statement others,
                               conn.Prepare("SELECT count(*) FROM users WHERE role = 'admin' "
                                            "AND disabled = 0 AND id != ?"));
      others.Bind(1, uid);
      OUTPOST_ASSIGN_OR_RETURN(bool row, others.Step());
      if (!row || others.ColumnInt64(0) == 0) {
        return Status::FailedPrecondition(
            "'" + std::string(username) +
            "' is the last administrator and cannot be erased: make another administrator "
            "first");
      }
    }
    // Each statement's own count; the cascades of the final DELETE find nothing left of these.
    auto run = [&](const char* sql, int64_t* count) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(sql));
      s.Bind(1, uid);
      OUTPOST_RETURN_IF_ERROR(s.Run());
      if (count != nullptr) *count = conn.Changes();
      return Status::Ok();
    };
    {
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement s,
          conn.Prepare("SELECT (SELECT count(*) FROM messages WHERE author_id = ?1), "
                       "(SELECT count(*) FROM files WHERE uploader_id = ?1), "
                       "(SELECT coalesce(sum(size), 0) FROM files WHERE uploader_id = ?1)"));
      s.Bind(1, uid);
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) {
        out.messages_kept = s.ColumnInt64(0);
        out.files = s.ColumnInt64(1);
        out.file_bytes = s.ColumnInt64(2);
      }
    }
    OUTPOST_RETURN_IF_ERROR(run("DELETE FROM files WHERE uploader_id = ?", nullptr));
    OUTPOST_RETURN_IF_ERROR(run("DELETE FROM reactions WHERE user_id = ?", &out.reactions));
    OUTPOST_RETURN_IF_ERROR(run("DELETE FROM sessions WHERE user_id = ?", &out.sessions));
    OUTPOST_RETURN_IF_ERROR(run("DELETE FROM api_tokens WHERE user_id = ?", &out.tokens));
    // Their direct messages stay with the others, but no longer under the key of this id.
    OUTPOST_RETURN_IF_ERROR(run("UPDATE rooms SET dm_key = 'erased:' || id WHERE dm_key IS NOT "
                                "NULL AND id IN (SELECT room_id FROM room_members WHERE "
                                "user_id = ?)",
                                nullptr));
    OUTPOST_RETURN_IF_ERROR(
        run("DELETE FROM room_members WHERE user_id = ?", &out.memberships));
    OUTPOST_RETURN_IF_ERROR(run(
        "DELETE FROM events WHERE user_id = ?1 OR also_user_id = ?1 OR (json_valid(payload) "
        "AND (json_extract(payload, '$.message.author.id') = ?1 OR "
        "json_extract(payload, '$.user_id') = ?1 OR json_extract(payload, '$.user.id') = ?1 OR "
        "json_extract(payload, '$.by_user_id') = ?1))",
        &out.events));
    // The schema's cascades and SET NULLs do the rest: notifications, thread follows and
    // anything missed above go; messages, edits, pins and rooms lose the author's id.
    return run("DELETE FROM users WHERE id = ?", nullptr);
  }));
  Result<int> blobs = files_->CollectGarbage();
  if (!blobs.ok()) return blobs.status().WithContext("erased, but removing their blobs failed");
  out.blobs = *blobs;
  return out;
}

}  // namespace outpost::domain
