// Files shared in rooms: streamed uploads with size limits and quotas checked before anything
// is stored, the real type sniffed from the bytes (and a type policy), one message per upload,
// downloads only for readers of the room, and blobs removed from disk when nothing refers to
// them. Storage is domain/file_store.h (encrypted, content-addressed, deduplicated).
#ifndef OUTPOST_DOMAIN_FILES_H_
#define OUTPOST_DOMAIN_FILES_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "domain/file_store.h"
#include "domain/messages.h"

namespace outpost::domain {

struct FilesOptions {
  int64_t max_file_bytes = 100LL << 20;     // one upload
  int64_t user_quota_bytes = 2LL << 30;     // sum of a user's uploads (0: no quota)
  int64_t room_quota_bytes = 10LL << 30;    // sum of a room's files (0: no quota)
  // Type classes (image, pdf, archive, text, html, executable, other): an upload is refused when
  // its class is denied, or when `allow_types` is not empty and does not name it.
  std::vector<std::string> allow_types;
  std::vector<std::string> deny_types = {"executable"};
};

// What the first bytes say a file is.
struct SniffedType {
  std::string mime;        // "image/png", "application/octet-stream" when unknown
  std::string type_class;  // image, pdf, archive, text, html, executable, other
  int64_t width = 0;       // images (PNG, JPEG, GIF, WebP) when the header tells; 0 otherwise
  int64_t height = 0;
};
SniffedType SniffType(std::string_view head, std::string_view name);

// The name as metadata: control characters and '/' and '\' become '_', leading dots and spaces
// are dropped, cut to 255 bytes on a UTF-8 boundary. InvalidArgument when nothing is left.
Result<std::string> SanitizeFileName(std::string_view name);

struct FileInfo {
  int64_t id = 0;
  int64_t message_id = 0;  // 0 once the message is gone
  int64_t room_id = 0;
  int64_t uploader_id = 0;  // 0 when the account was erased
  std::string uploader_username;
  std::string name;
  int64_t size = 0;
  std::string content_type;
  int64_t width = 0, height = 0;
  UnixMillis created_at = 0;
  std::string blob_name;    // internal: never shown to clients
  std::string wrapped_key;  // internal
};
nlohmann::json FileJson(const FileInfo& f);

// An upload in progress. Append the body in pieces; dropping it leaves nothing behind.
class Upload {
 public:
  // TooLarge past max_file_bytes or past the declared length (a lying Content-Length);
  // InsufficientStorage (disk full, or past the remaining quota).
  Status Append(std::string_view bytes);
  uint64_t received() const { return writer_->size(); }

 private:
  friend class Files;
  Upload() = default;
  User actor_;
  int64_t room_id_ = 0;
  int64_t declared_ = -1;  // -1: no Content-Length
  int64_t limit_ = 0;      // the most bytes this upload may have (file limit and quotas)
  std::string limit_reason_;
  std::unique_ptr<BlobWriter> writer_;
};

struct UploadRequest {
  std::string name;
  std::string message;  // optional text; the file name when empty
  int64_t thread_root_id = 0;
  std::string client_type;  // the Content-Type the client claimed (logged only)
};

struct Usage {
  std::string key;  // user name or room id
  int64_t files = 0;
  int64_t bytes = 0;
};

// Thread-safe. Pointers must outlive it.
class Files {
 public:
  Files(storage::Database* db, const Clock* clock, Messages* messages, std::string blob_root,
        std::string_view master_key, FilesOptions options)
      : db_(db), clock_(clock), messages_(messages), root_(std::move(blob_root)),
        keys_(BlobKeys::Derive(master_key)), options_(std::move(options)) {}

  // Checks that the actor may post in the room and that `declared_size` (-1: unknown) fits the
  // file limit and the quotas. NotFound (room not readable), PermissionDenied, TooLarge (413),
  // InsufficientStorage (quota spent or disk full, 507).
  Result<std::unique_ptr<Upload>> Begin(const User& actor, int64_t room_id,
                                        int64_t declared_size);
  // Completes the upload: checks the length, sniffs and applies the type policy, and posts the
  // message with the file in one transaction (its "message.created" event carries the file).
  // On any failure nothing is left (no blob, temp file, row, message or event).
  Result<FileInfo> Finish(std::unique_ptr<Upload> upload, const UploadRequest& request);

  // The file and an open reader of its plaintext. NotFound when it does not exist or lies in a
  // room the actor may not read (the same answer).
  Result<std::pair<FileInfo, std::unique_ptr<BlobReader>>> Open(const User& actor,
                                                                int64_t file_id);
  // A room's files, newest first, ids below `before_id` (0: from the newest).
  Result<std::vector<FileInfo>> ListRoom(const User& actor, int64_t room_id, int64_t before_id,
                                         int limit);
  // Every file (administrators): order "size" (largest first) or "new".
  Result<std::vector<FileInfo>> ListAll(std::string_view order, int limit);
  Result<std::vector<Usage>> UsageByUser();
  Result<std::vector<Usage>> UsageByRoom();

  // Removes blobs no file refers to (rows, then files on disk). Returns how many went.
  Result<int> CollectGarbage();
  // Removes temp files of uploads cut off by a crash, and blob files no row names (a crash
  // between an upload's rename and its commit). Call before serving, never concurrently with
  // uploads.
  Status RemoveStaleTemps();
  // Decrypts every blob and checks its keyed hash and size; one line per problem.
  Result<std::vector<std::string>> Verify();

  const FilesOptions& options() const { return options_; }
  const std::string& root() const { return root_; }

 private:
  Result<int64_t> UsedBy(storage::Connection& conn, const char* column, int64_t id);

  storage::Database* const db_;
  const Clock* const clock_;
  Messages* const messages_;
  const std::string root_;
  const BlobKeys keys_;
  const FilesOptions options_;
  // Serializes "blob row exists <-> blob file exists" changes: committing a new blob and the
  // garbage collector, so that a blob being re-created is never unlinked.
  std::mutex blob_mu_;
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_FILES_H_
