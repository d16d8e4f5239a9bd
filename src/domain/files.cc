#include "domain/files.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_set>

namespace outpost::domain {
namespace {

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

uint32_t Be32(std::string_view s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}
uint32_t Be16(std::string_view s, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[at])) << 8) |
         static_cast<unsigned char>(s[at + 1]);
}
uint32_t Le16(std::string_view s, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8) |
         static_cast<unsigned char>(s[at]);
}

// Walks the JPEG markers to the first start-of-frame within the bytes we have.
void JpegSize(std::string_view s, SniffedType* t) {
  size_t i = 2;
  while (i + 9 < s.size()) {
    if (static_cast<unsigned char>(s[i]) != 0xFF) return;
    unsigned char m = static_cast<unsigned char>(s[i + 1]);
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      t->height = Be16(s, i + 5);
      t->width = Be16(s, i + 7);
      return;
    }
    i += 2 + Be16(s, i + 2);
  }
}

uint32_t Le24(std::string_view s, size_t at) {
  return Le16(s, at) | (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 16);
}

// The canvas size from the first chunk of a WebP file: lossy (VP8), lossless (VP8L) or
// extended (VP8X). Leaves 0 x 0 when the header is not what the format says.
void WebpSize(std::string_view s, SniffedType* t) {
  if (s.size() < 30) return;
  std::string_view chunk = s.substr(12, 4);
  if (chunk == "VP8 ") {
    // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height (2 scale bits).
    if (s.substr(23, 3) != "\x9d\x01\x2a") return;
    t->width = Le16(s, 26) & 0x3FFF;
    t->height = Le16(s, 28) & 0x3FFF;
  } else if (chunk == "VP8L") {
    // Signature 0x2f, then width-1 and height-1 in 14 bits each, little-endian bit order.
    if (static_cast<unsigned char>(s[20]) != 0x2F) return;
    uint32_t bits = Le16(s, 21) | (Le16(s, 23) << 16);
    t->width = (bits & 0x3FFF) + 1;
    t->height = ((bits >> 14) & 0x3FFF) + 1;
  } else if (chunk == "VP8X") {
    // Flags (1) and reserved (3) bytes, then canvas width-1 and height-1 in 24 bits each.
    t->width = static_cast<int64_t>(Le24(s, 24)) + 1;
    t->height = static_cast<int64_t>(Le24(s, 27)) + 1;
  }
}

// Valid UTF-8 without NUL or most C0 controls: text. A cut multibyte tail is allowed.
bool LooksLikeText(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') return false;
      if (c == 0x7F) return false;
      ++i;
      continue;
    }
    size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || c == 0xC0 || c == 0xC1) return false;
    for (size_t k = 1; k < n; ++k) {
      if (i + k >= s.size()) return true;
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

const char* kFileColumns =
    "f.id, f.message_id, f.room_id, f.uploader_id, u.username, f.name, f.size, f.content_type, "
    "f.width, f.height, f.created_at, b.name, b.wrapped_key FROM files f JOIN blobs b ON "
    "b.id = f.blob_id LEFT JOIN users u ON u.id = f.uploader_id ";

FileInfo ReadFileRow(const storage::Statement& s) {
  FileInfo f;
  f.id = s.ColumnInt64(0);
  f.message_id = s.ColumnInt64(1);
  f.room_id = s.ColumnInt64(2);
  f.uploader_id = s.ColumnInt64(3);
  f.uploader_username = s.ColumnText(4);
  f.name = s.ColumnText(5);
  f.size = s.ColumnInt64(6);
  f.content_type = s.ColumnText(7);
  f.width = s.ColumnInt64(8);
  f.height = s.ColumnInt64(9);
  f.created_at = s.ColumnInt64(10);
  f.blob_name = s.ColumnText(11);
  f.wrapped_key = s.ColumnBlob(12);
  return f;
}

Result<std::vector<FileInfo>> Collect(storage::Statement& s) {
  std::vector<FileInfo> out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadFileRow(s));
  }
  return out;
}

bool Listed(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

SniffedType SniffType(std::string_view h, std::string_view name) {
  SniffedType t{"application/octet-stream", "other", 0, 0};
  std::string lname = Lower(name);
  if (StartsWith(h, "\x89PNG\r\n\x1a\n") && h.size() >= 24) {
    t = {"image/png", "image", Be32(h, 16), Be32(h, 20)};
  } else if (StartsWith(h, "\xFF\xD8\xFF")) {
    t = {"image/jpeg", "image", 0, 0};
    JpegSize(h, &t);
  } else if ((StartsWith(h, "GIF87a") || StartsWith(h, "GIF89a")) && h.size() >= 10) {
    t = {"image/gif", "image", Le16(h, 6), Le16(h, 8)};
  } else if (StartsWith(h, "RIFF") && h.size() >= 12 && h.substr(8, 4) == "WEBP") {
    t = {"image/webp", "image", 0, 0};
    WebpSize(h, &t);
  } else if (StartsWith(h, "%PDF-")) {
    t = {"application/pdf", "pdf", 0, 0};
  } else if (StartsWith(h, "PK\x03\x04") || StartsWith(h, std::string_view("PK\x05\x06", 4))) {
    t = {"application/zip", "archive", 0, 0};
    if (EndsWith(lname, ".docx")) {
      t.mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    } else if (EndsWith(lname, ".xlsx")) {
      t.mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    } else if (EndsWith(lname, ".pptx")) {
      t.mime = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
    }
  } else if (StartsWith(h, "\x7F" "ELF") || StartsWith(h, "MZ") || StartsWith(h, "#!") ||
             StartsWith(h, "\xFE\xED\xFA\xCE") || StartsWith(h, "\xFE\xED\xFA\xCF") ||
             StartsWith(h, "\xCE\xFA\xED\xFE") || StartsWith(h, "\xCF\xFA\xED\xFE") ||
             StartsWith(h, "\xCA\xFE\xBA\xBE")) {
    t = {"application/octet-stream", "executable", 0, 0};
  } else if (LooksLikeText(h)) {
    std::string start = Lower(h.substr(0, 512));
    start.erase(0, start.find_first_not_of(" \t\r\n\xEF\xBB\xBF"));
    if (StartsWith(start, "<!doctype html") || StartsWith(start, "<html") ||
        StartsWith(start, "<script") || start.find("<script") != std::string::npos ||
        EndsWith(lname, ".html") || EndsWith(lname, ".htm")) {
      t = {"text/html", "html", 0, 0};
    } else if (start.find("<svg") != std::string::npos || EndsWith(lname, ".svg")) {
      t = {"image/svg+xml", "html", 0, 0};
    } else if (StartsWith(start, "<?xml") || EndsWith(lname, ".xml")) {
      t = {"application/xml", "html", 0, 0};
    } else if (EndsWith(lname, ".js") || EndsWith(lname, ".mjs")) {
      t = {"text/javascript", "html", 0, 0};
    } else {
      t = {"text/plain; charset=utf-8", "text", 0, 0};
    }
  }
  return t;
}

Result<std::string> SanitizeFileName(std::string_view name) {
  std::string out;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7F || c == '/' || c == '\\' ? '_' : c);
  }
  size_t start = out.find_first_not_of(". ");
  out = start == std::string::npos ? "" : out.substr(start);
  while (!out.empty() && (out.back() == ' ' || out.back() == '.')) out.pop_back();
  if (out.size() > 255) {
    size_t cut = 255;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  if (out.empty()) return Status::InvalidArgument("give the file a name (name=...)");
  return out;
}

nlohmann::json FileJson(const FileInfo& f) {
  nlohmann::json j = {{"id", f.id},
                      {"message_id", f.message_id},
                      {"room_id", f.room_id},
                      {"uploader", f.uploader_username},
                      {"name", f.name},
                      {"size", f.size},
                      {"content_type", f.content_type},
                      {"created_at", f.created_at},
                      {"url", "/api/v1/files/" + std::to_string(f.id)}};
  if (f.width > 0) {
    j["width"] = f.width;
    j["height"] = f.height;
  }
  return j;
}

Status Upload::Append(std::string_view bytes) {
  uint64_t total = writer_->size() + bytes.size();
  if (declared_ >= 0 && total > static_cast<uint64_t>(declared_)) {
    return Status::TooLarge("the body is longer than its Content-Length");
  }
  if (total > static_cast<uint64_t>(limit_)) {
    if (limit_reason_ == "quota") {
      return Status::InsufficientStorage("the upload does not fit the remaining quota");
    }
    return Status::TooLarge("files may be at most " + std::to_string(limit_) + " bytes");
  }
  return writer_->Append(bytes);
}

Result<int64_t> Files::UsedBy(storage::Connection& conn, const char* column, int64_t id) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement s,
      conn.Prepare(std::string("SELECT COALESCE(SUM(size), 0) FROM files WHERE ") + column +
                   " = ?"));
  s.Bind(1, id);
  OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.ColumnInt64(0) : 0;
}

Result<std::unique_ptr<Upload>> Files::Begin(const User& actor, int64_t room_id,
                                             int64_t declared_size) {
  std::unique_ptr<Upload> up(new Upload());
  up->actor_ = actor;
  up->room_id_ = room_id;
  up->declared_ = declared_size;
  up->limit_ = options_.max_file_bytes;
  up->limit_reason_ = "size";
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    if (!loaded.second.can_post) {
      return Status::PermissionDenied("you may not post in this room");
    }
    if (loaded.first.archived) return Status::FailedPrecondition("the room is archived");
    if (options_.user_quota_bytes > 0) {
      OUTPOST_ASSIGN_OR_RETURN(int64_t used, UsedBy(conn, "uploader_id", actor.id));
      int64_t left = std::max<int64_t>(0, options_.user_quota_bytes - used);
      if (left < up->limit_) up->limit_ = left, up->limit_reason_ = "quota";
    }
    if (options_.room_quota_bytes > 0) {
      OUTPOST_ASSIGN_OR_RETURN(int64_t used, UsedBy(conn, "room_id", room_id));
      int64_t left = std::max<int64_t>(0, options_.room_quota_bytes - used);
      if (left < up->limit_) up->limit_ = left, up->limit_reason_ = "quota";
    }
    return Status::Ok();
  }));
  if (declared_size > options_.max_file_bytes) {
    return Status::TooLarge("files may be at most " + std::to_string(options_.max_file_bytes) +
                            " bytes; this one has " + std::to_string(declared_size));
  }
  if (declared_size > up->limit_) {
    return Status::InsufficientStorage("the upload (" + std::to_string(declared_size) +
                                       " bytes) does not fit the remaining quota of " +
                                       std::to_string(up->limit_) + " bytes");
  }
  OUTPOST_ASSIGN_OR_RETURN(up->writer_, BlobWriter::Create(root_, &keys_));
  return up;
}

Result<FileInfo> Files::Finish(std::unique_ptr<Upload> up, const UploadRequest& req) {
  OUTPOST_ASSIGN_OR_RETURN(std::string name, SanitizeFileName(req.name));
  if (up->declared_ >= 0 && up->received() != static_cast<uint64_t>(up->declared_)) {
    return Status::InvalidArgument("the body ended before its Content-Length");
  }
  BlobWriter& w = *up->writer_;
  SniffedType type = SniffType(w.head(), name);
  if (Listed(options_.deny_types, type.type_class) ||
      (!options_.allow_types.empty() && !Listed(options_.allow_types, type.type_class))) {
    return Status::InvalidArgument("files of type '" + type.type_class +
                                   "' may not be shared here");
  }
  OUTPOST_RETURN_IF_ERROR(w.Finish());
  PostRequest post;
  post.room_id = up->room_id_;
  post.body = req.message.empty() ? name : req.message;
  post.thread_root_id = req.thread_root_id;
  FileInfo f;
  f.room_id = up->room_id_;
  f.uploader_id = up->actor_.id;
  f.uploader_username = up->actor_.username;
  f.name = name;
  f.size = static_cast<int64_t>(w.size());
  f.content_type = type.mime;
  f.width = type.width;
  f.height = type.height;
  f.created_at = clock_->NowMillis();
  f.blob_name = w.name();
  f.wrapped_key = w.wrapped_key();
  // The message, the file's rows and its event commit in one transaction (Messages::Post runs
  // `attach` inside it): a crash leaves either all of them or none. The blob file goes in place
  // last inside that transaction, so a failure before leaves only the temp file, and a failed
  // commit after is undone by unlinking it (blob_mu_ keeps the collector out meanwhile).
  std::lock_guard<std::mutex> lock(blob_mu_);
  bool created = false;
  auto attach = [&](storage::Connection& conn, int64_t message_id) -> Status {
    created = false;
    f.message_id = message_id;
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement find,
                             conn.Prepare("SELECT id FROM blobs WHERE name = ?"));
    find.Bind(1, w.name());
    OUTPOST_ASSIGN_OR_RETURN(bool found, find.Step());
    int64_t blob_id = 0;
    if (found) {
      blob_id = find.ColumnInt64(0);
    } else {
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement ins,
          conn.Prepare("INSERT INTO blobs(name, size, wrapped_key, created_at) "
                       "VALUES(?, ?, ?, ?)"));
      ins.Bind(1, w.name()).Bind(2, f.size).BindBlob(3, w.wrapped_key()).Bind(4, f.created_at);
      OUTPOST_RETURN_IF_ERROR(ins.Run());
      blob_id = conn.LastInsertRowId();
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement ins,
        conn.Prepare("INSERT INTO files(message_id, room_id, uploader_id, name, size, "
                     "content_type, blob_id, width, height, created_at) "
                     "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins.Bind(1, f.message_id).Bind(2, f.room_id).Bind(3, f.uploader_id).Bind(4, f.name);
    ins.Bind(5, f.size).Bind(6, f.content_type).Bind(7, blob_id);
    ins.Bind(8, f.width).Bind(9, f.height).Bind(10, f.created_at);
    OUTPOST_RETURN_IF_ERROR(ins.Run());
    f.id = conn.LastInsertRowId();
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement mark,
                             conn.Prepare("UPDATE messages SET has_file = 1 WHERE id = ?"));
    mark.Bind(1, f.message_id);
    OUTPOST_RETURN_IF_ERROR(mark.Run());
    if (!found) {
      OUTPOST_RETURN_IF_ERROR(w.Commit());
      created = true;
    }
    return Status::Ok();
  };
  Result<PostResult> posted = messages_->Post(up->actor_, post, attach);
  if (!posted.ok() && created) ::unlink(BlobPath(root_, w.name()).c_str());
  w.Discard();
  if (!posted.ok()) return posted.status();
  return f;
}

Result<std::pair<FileInfo, std::unique_ptr<BlobReader>>> Files::Open(const User& actor,
                                                                     int64_t file_id) {
  FileInfo f;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare(std::string("SELECT ") + kFileColumns + "WHERE f.id = ?"));
    s.Bind(1, file_id);
    OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Status::NotFound("no such file");
    f = ReadFileRow(s);
    auto readable = LoadReadable(conn, actor, f.room_id);
    if (!readable.ok()) {
      return readable.status().IsNotFound() ? Status::NotFound("no such file")
                                            : readable.status();
    }
    return Status::Ok();
  }));
  OUTPOST_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> r,
                           BlobReader::Open(root_, keys_, f.blob_name, f.wrapped_key));
  return std::make_pair(std::move(f), std::move(r));
}

Result<std::vector<FileInfo>> Files::ListRoom(const User& actor, int64_t room_id,
                                              int64_t before_id, int limit) {
  std::vector<FileInfo> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare(std::string("SELECT ") + kFileColumns +
                     "WHERE f.room_id = ? AND f.id < ? ORDER BY f.id DESC LIMIT ?"));
    s.Bind(1, room_id).Bind(2, before_id > 0 ? before_id : INT64_MAX).Bind(3, limit);
    OUTPOST_ASSIGN_OR_RETURN(out, Collect(s));
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<FileInfo>> Files::ListAll(std::string_view order, int limit) {
  std::string by = order == "size" ? "f.size DESC, f.id DESC" : "f.id DESC";
  std::vector<FileInfo> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare(std::string("SELECT ") + kFileColumns + "ORDER BY " + by + " LIMIT ?"));
    s.Bind(1, limit);
    OUTPOST_ASSIGN_OR_RETURN(out, Collect(s));
    return Status::Ok();
  }));
  return out;
}

namespace {
Result<std::vector<Usage>> UsageQuery(storage::Database* db, const char* sql) {
  std::vector<Usage> out;
  OUTPOST_RETURN_IF_ERROR(db->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(sql));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back({s.ColumnText(0), s.ColumnInt64(1), s.ColumnInt64(2)});
    }
    return Status::Ok();
  }));
  return out;
}
}  // namespace

Result<std::vector<Usage>> Files::UsageByUser() {
  return UsageQuery(db_,
                    "SELECT COALESCE(u.username, ''), COUNT(*), SUM(f.size) FROM files f "
                    "LEFT JOIN users u ON u.id = f.uploader_id GROUP BY f.uploader_id "
                    "ORDER BY SUM(f.size) DESC");
}

Result<std::vector<Usage>> Files::UsageByRoom() {
  return UsageQuery(db_,
                    "SELECT CAST(room_id AS TEXT), COUNT(*), SUM(size) FROM files "
                    "GROUP BY room_id ORDER BY SUM(size) DESC");
}

Result<int> Files::CollectGarbage() {
  std::lock_guard<std::mutex> lock(blob_mu_);
  std::vector<std::string> gone;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) -> Status {
    gone.clear();
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("SELECT name FROM blobs WHERE NOT EXISTS "
                     "(SELECT 1 FROM files WHERE files.blob_id = blobs.id)"));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      gone.push_back(s.ColumnText(0));
    }
    return conn.Exec(
        "DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM files WHERE files.blob_id = blobs.id)");
  }));
  for (const std::string& name : gone) {
    std::string path = BlobPath(root_, name);
    if (!path.empty()) ::unlink(path.c_str());
  }
  return static_cast<int>(gone.size());
}

Status Files::RemoveStaleTemps() {
  auto entries = [](const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
      }
      ::closedir(d);
    }
    return out;
  };
  for (const std::string& n : entries(root_ + "/tmp")) ::unlink((root_ + "/tmp/" + n).c_str());
  // Blob files no row names: a crash between an upload's rename and its commit. Nothing else
  // runs yet, so no upload is between the two now.
  std::unordered_set<std::string> known;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare("SELECT name FROM blobs"));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      known.insert(s.ColumnText(0));
    }
    return Status::Ok();
  }));
  for (const std::string& sub : entries(root_)) {
    if (sub.size() != 2) continue;
    for (const std::string& n : entries(root_ + "/" + sub)) {
      std::string path = BlobPath(root_, n);
      if (!path.empty() && n.compare(0, 2, sub) == 0 && !known.count(n)) {
        ::unlink(path.c_str());
      }
    }
  }
  return Status::Ok();
}

Result<std::vector<std::string>> Files::Verify() {
  struct Row {
    std::string name, wrapped;
    int64_t size;
  };
  std::vector<Row> rows;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s,
                             conn.Prepare("SELECT name, wrapped_key, size FROM blobs ORDER BY id"));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      rows.push_back({s.ColumnText(0), s.ColumnBlob(1), s.ColumnInt64(2)});
    }
    return Status::Ok();
  }));
  std::vector<std::string> problems;
  for (const Row& r : rows) {
    auto reader = BlobReader::Open(root_, keys_, r.name, r.wrapped);
    if (!reader.ok()) {
      problems.push_back(r.name + ": " + reader.status().ToString());
      continue;
    }
    crypto_generichash_state h;
    crypto_generichash_init(&h,
                            reinterpret_cast<const unsigned char*>(keys_.name_key.value().data()),
                            keys_.name_key.size(), 32);
    std::string chunk;
    Status st;
    while (!(*reader)->done() && (st = (*reader)->Next(&chunk)).ok()) {
      crypto_generichash_update(&h, reinterpret_cast<const unsigned char*>(chunk.data()),
                                chunk.size());
    }
    unsigned char out[32];
    crypto_generichash_final(&h, out, sizeof(out));
    std::string got = HexEncode(std::string_view(reinterpret_cast<char*>(out), sizeof(out)));
    if (!st.ok()) {
      problems.push_back(r.name + ": " + st.ToString());
    } else if (got != r.name) {
      problems.push_back(r.name + ": the content does not match its hash");
    } else if (static_cast<int64_t>((*reader)->position()) != r.size) {
      problems.push_back(r.name + ": the size does not match the database");
    }
  }
  return problems;
}

}  // namespace outpost::domain
