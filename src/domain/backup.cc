#include "domain/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "domain/backup_manifest.h"
#include "storage/database.h"
#include "util/fs.h"
#include "util/unique_fd.h"

namespace outpost::domain {
namespace {

constexpr size_t kIoBufferSize = 256 * 1024;

// Deletes the paths it holds when it goes out of scope, unless they were released.
class Cleanup {
 public:
  void Add(std::string path) { paths_.push_back(std::move(path)); }
  void Release() { paths_.clear(); }
  ~Cleanup() {
    std::error_code ec;
    for (const auto& p : paths_) std::filesystem::remove_all(p, ec);
  }

 private:
  std::vector<std::string> paths_;
};

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseName(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

Status SyncDir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || fsync(fd.get()) != 0) return ErrnoStatus(dir, errno);
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(path, errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Create

// Takes a consistent copy of the live database with SQLite's online backup API: one step over
// a read transaction, so that in WAL mode the server's writers never wait for it. (This is the
// one place where the domain layer speaks SQLite; storage::Connection hands out its handle.)
Status SnapshotDatabase(const std::string& source, const std::string& dest, int busy_timeout_ms) {
  storage::OpenOptions ro;
  ro.read_only = true;
  ro.busy_timeout_ms = busy_timeout_ms;
  OUTPOST_ASSIGN_OR_RETURN(std::unique_ptr<storage::Connection> src,
                           storage::Connection::Open(source, ro));
  UniqueFd created(open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (created.get() < 0) return ErrnoStatus(dest, errno);
  sqlite3* out = nullptr;
  int rc =
      sqlite3_open_v2(dest.c_str(), &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> out_guard(out, sqlite3_close_v2);
  if (rc != SQLITE_OK) return Status::IoError(dest + ": " + sqlite3_errstr(rc));
  sqlite3_backup* backup = sqlite3_backup_init(out, "main", src->handle(), "main");
  if (backup == nullptr) return Status::IoError(dest + ": " + sqlite3_errmsg(out));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  do {
    rc = sqlite3_backup_step(backup, -1);
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } else if (rc != SQLITE_OK) {
      break;
    }
  } while (true);
  sqlite3_backup_finish(backup);
  if (rc == SQLITE_DONE) return Status::Ok();
  return src->Error(rc, "online backup").WithContext("snapshot of the database");
}

struct SourceFile {
  std::string name;  // member name, relative to the data folder
  std::string path;
  int64_t size;
};

// Every regular file under <root>/<top>, sorted by name; other entries go to `skipped`.
Status CollectFiles(const std::string& root, const std::string& top, std::vector<SourceFile>* files,
                    std::vector<std::string>* skipped) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path base = fs::path(root) / top;
  if (!fs::exists(fs::symlink_status(base, ec))) return Status::Ok();
  std::vector<SourceFile> found;
  for (fs::recursive_directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(st)) continue;
    std::string rel = top + "/" + fs::relative(it->path(), base, ec).generic_string();
    if (!fs::is_regular_file(st)) {
      skipped->push_back(rel);
      continue;
    }
    found.push_back({rel, it->path().string(), 0});
  }
  if (ec) return Status::IoError(base.string() + ": " + ec.message());
  std::sort(found.begin(), found.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.name < b.name; });
  for (auto& f : found) files->push_back(std::move(f));
  return Status::Ok();
}

// Streams one file into the archive and records its hash.
Status AddFile(ArchiveWriter* w, MemberKind kind, const SourceFile& f,
               std::vector<ManifestEntry>* records, const std::function<void(int64_t)>& advanced) {
  UniqueFd fd(open(f.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (fd.get() < 0 || fstat(fd.get(), &st) != 0) return ErrnoStatus(f.path, errno);
  MemberHeader m{kind, f.name, static_cast<uint32_t>(st.st_mode & 0777),
                 static_cast<uint64_t>(st.st_size)};
  OUTPOST_RETURN_IF_ERROR(w->BeginMember(m));
  crypto_generichash_state hash;
  crypto_generichash_init(&hash, nullptr, 0, 32);
  std::string buf(kIoBufferSize, '\0');
  uint64_t left = m.size;
  while (left > 0) {
    ssize_t n = read(fd.get(), buf.data(), std::min<uint64_t>(buf.size(), left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(f.path, errno);
    if (n == 0) return Status::IoError(f.path + " shrank while it was being backed up");
    std::string_view piece(buf.data(), static_cast<size_t>(n));
    crypto_generichash_update(&hash, reinterpret_cast<const unsigned char*>(piece.data()),
                              piece.size());
    OUTPOST_RETURN_IF_ERROR(w->Write(piece));
    left -= static_cast<uint64_t>(n);
    advanced(n);
  }
  WipeString(&buf);
  std::string digest(32, '\0');
  crypto_generichash_final(&hash, reinterpret_cast<unsigned char*>(digest.data()), 32);
  records->push_back({kind, m.name, m.mode, m.size, HexEncode(digest)});
  return Status::Ok();
}

// Renames without replacing: a second backup in the same second must not destroy the first.
Status RenameNoReplace(const std::string& from, const std::string& to) {
  if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return Status::Ok();
  }
  if (errno == EEXIST) return Status::AlreadyExists(to + " already exists");
  if (errno != EINVAL && errno != ENOSYS) return ErrnoStatus(to, errno);
  if (link(from.c_str(), to.c_str()) != 0) {
    return errno == EEXIST ? Status::AlreadyExists(to + " already exists") : ErrnoStatus(to, errno);
  }
  unlink(from.c_str());
  return Status::Ok();
}

// Writes members as files under `root`, creating folders 0700, each file synced.
class FolderSink : public MemberSink {
 public:
  explicit FolderSink(std::string root) : root_(std::move(root)) {}
  ~FolderSink() override {
    if (fd_ >= 0) close(fd_);
  }

  Status Begin(const MemberHeader& m) override {
    path_ = root_ + "/" + m.name;
    mode_ = m.kind == MemberKind::kDatabase ? 0600 : (m.mode & 0644);
    for (size_t slash = m.name.find('/'); slash != std::string::npos;
         slash = m.name.find('/', slash + 1)) {
      std::string dir = root_ + "/" + m.name.substr(0, slash);
      if (dirs_.insert(dir).second && mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return ErrnoStatus(dir, errno);
      }
    }
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) return ErrnoStatus(path_, errno);
    return Status::Ok();
  }
  Status Write(std::string_view data) override { return WriteAll(fd_, data, path_); }
  Status End() override {
    int fd = std::exchange(fd_, -1);
    bool ok = fchmod(fd, static_cast<mode_t>(mode_)) == 0 && fsync(fd) == 0;
    int err = errno;
    close(fd);
    return ok ? Status::Ok() : ErrnoStatus(path_, err);
  }
  Status SyncFolders() {
    for (const auto& d : dirs_) OUTPOST_RETURN_IF_ERROR(SyncDir(d));
    return SyncDir(root_);
  }

 private:
  std::string root_;
  std::set<std::string> dirs_;
  std::string path_;
  uint32_t mode_ = 0600;
  int fd_ = -1;
};

Status CheckTarget(const std::string& target, bool force, bool* exists) {
  struct stat st;
  *exists = lstat(target.c_str(), &st) == 0;
  if (!*exists) return errno == ENOENT ? Status::Ok() : ErrnoStatus(target, errno);
  if (!S_ISDIR(st.st_mode)) return Status::FailedPrecondition(target + " is not a folder");
  struct stat parent;
  if (stat(DirName(target).c_str(), &parent) == 0 && parent.st_dev != st.st_dev) {
    return Status::FailedPrecondition(
        target +
        " is a mount point: a restore builds the new folder next to it and renames it "
        "into place, which cannot cross file systems; restore into a folder inside it");
  }
  std::error_code ec;
  bool empty = std::filesystem::is_empty(target, ec);
  if (ec) return Status::IoError(target + ": " + ec.message());
  if (!empty && !force) {
    return Status::FailedPrecondition(target +
                                      " is not empty; restore refuses to overwrite it "
                                      "(with --force the old folder is kept beside it)");
  }
  return Status::Ok();
}

// Puts `staged` at `target`, moving a non-empty target aside to `*replaced`.
Status PlaceFolder(const std::string& staged, const std::string& target, bool target_has_data,
                   UnixMillis now, std::string* replaced) {
  if (!target_has_data) {
    // rename(2) atomically replaces a missing or empty folder.
    if (rename(staged.c_str(), target.c_str()) != 0) return ErrnoStatus(target, errno);
    return Status::Ok();
  }
  std::string aside = target + ".replaced-" + CompactUtcTime(now);
  for (int i = 2; PathExists(aside); ++i) {
    aside = target + ".replaced-" + CompactUtcTime(now) + "-" + std::to_string(i);
  }
  if (renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    if (rename(staged.c_str(), aside.c_str()) != 0) return ErrnoStatus(aside, errno);
  } else if (errno == EINVAL || errno == ENOSYS) {
    // No atomic exchange on this file system: two renames, with a moment without a target.
    if (rename(target.c_str(), aside.c_str()) != 0) return ErrnoStatus(aside, errno);
    if (rename(staged.c_str(), target.c_str()) != 0) {
      int err = errno;
      rename(aside.c_str(), target.c_str());
      return ErrnoStatus(target, err);
    }
  } else {
    return ErrnoStatus(target, errno);
  }
  *replaced = aside;
  return Status::Ok();
}

}  // namespace

std::string CompactUtcTime(UnixMillis t) {
  time_t secs = static_cast<time_t>(t / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Status CreateBackupKeyFile(const std::string& path) {
  if (PathExists(path)) {
    return Status::AlreadyExists(path + " already exists; keys are never overwritten");
  }
  SecretString key(RandomBytes(kBackupKeyBytes));
  return WriteFileAtomic(path, key.value(), 0600);
}

Result<BackupSecret> LoadBackupKeyFile(const std::string& path) {
  OUTPOST_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  BackupSecret s;
  s.kind = BackupKeyKind::kKeyFile;
  s.secret = SecretString(std::move(bytes));
  if (s.secret.size() != kBackupKeyBytes) {
    return Status::InvalidArgument(
        path + " is not a backup key (a key made by 'outpost backup keygen' is 32 bytes)");
  }
  return s;
}

Result<BackupSummary> CreateBackup(const DataLayout& layout, const ApplianceKeys& keys,
                                   const BackupSecret& secret, const CreateBackupOptions& options) {
  const UnixMillis now = options.clock->NowMillis();
  const std::string backups = layout.root + "/backups";
  if (!PathExists(layout.database())) {
    return Status::NotFound("no Outpost database in " + layout.root);
  }
  OUTPOST_RETURN_IF_ERROR(MakeDirs(backups, 0700, true));
  std::string out = options.out_path.empty() ? backups + "/outpost-" + CompactUtcTime(now) + ".obk"
                                             : options.out_path;
  if (PathExists(out)) return Status::AlreadyExists(out + " already exists");
  const std::string rnd = HexEncode(RandomBytes(6));
  const std::string partial = DirName(out) + "/." + BaseName(out) + ".partial-" + rnd;
  // The plaintext snapshot stays inside the private data folder, never next to the output
  // (which may be a USB stick).
  const std::string snapshot = backups + "/.snapshot-" + rnd + ".db";
  Cleanup cleanup;
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) cleanup.Add(snapshot + suffix);
  cleanup.Add(partial);

  OUTPOST_RETURN_IF_ERROR(SnapshotDatabase(layout.database(), snapshot, options.busy_timeout_ms));
  BackupSummary summary;
  std::vector<SourceFile> files;
  files.push_back({kDatabaseMemberName, snapshot, 0});
  for (const char* top : {"keys", "tls", "blobs"}) {
    OUTPOST_RETURN_IF_ERROR(CollectFiles(layout.root, top, &files, &summary.skipped));
  }
  int64_t total = 0, done = 0;
  for (auto& f : files) {
    struct stat st;
    if (lstat(f.path.c_str(), &st) == 0) total += st.st_size;
  }

  UniqueFd fd(open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return ErrnoStatus(partial, errno);
  fchmod(fd.get(), 0600);
  OUTPOST_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveWriter> w,
                           ArchiveWriter::Begin(fd.get(), secret, now, options.chunk_size));
  std::vector<ManifestEntry> records;
  auto advanced = [&](int64_t n) {
    done += n;
    if (options.progress) options.progress(done, total);
  };
  for (size_t i = 0; i < files.size(); ++i) {
    MemberKind kind = i == 0 ? MemberKind::kDatabase : MemberKind::kFile;
    OUTPOST_RETURN_IF_ERROR(AddFile(w.get(), kind, files[i], &records, advanced));
    summary.bytes += static_cast<int64_t>(records.back().size);
  }
  std::string manifest = EncodeManifest(records, now, keys.signing_public);
  std::string signature(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(manifest.data()), manifest.size(),
                       reinterpret_cast<const unsigned char*>(keys.signing_secret.value().data()));
  OUTPOST_RETURN_IF_ERROR(
      w->BeginMember({MemberKind::kManifest, kManifestMemberName, 0, manifest.size()}));
  OUTPOST_RETURN_IF_ERROR(w->Write(manifest));
  OUTPOST_RETURN_IF_ERROR(
      w->BeginMember({MemberKind::kSignature, kSignatureMemberName, 0, signature.size()}));
  OUTPOST_RETURN_IF_ERROR(w->Write(signature));
  OUTPOST_RETURN_IF_ERROR(w->Finish());
  if (fsync(fd.get()) != 0) return ErrnoStatus(partial, errno);
  if (close(fd.Release()) != 0) return ErrnoStatus(partial, errno);
  OUTPOST_RETURN_IF_ERROR(RenameNoReplace(partial, out));
  OUTPOST_RETURN_IF_ERROR(SyncDir(DirName(out)));

  summary.path = out;
  summary.created_at = now;
  summary.format_version = kBackupFormatVersion;
  summary.outpost_version = OUTPOST_VERSION;
  summary.signing_public_key = HexEncode(keys.signing_public);
  summary.key_kind = secret.kind;
  summary.members = static_cast<int64_t>(records.size());
  summary.archive_size = w->bytes_written();
  return summary;
}

Result<BackupSummary> VerifyBackup(const std::string& path, const BackupSecret& secret,
                                   const BackupProgress& progress) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(path, errno);
  OUTPOST_ASSIGN_OR_RETURN(BackupSummary summary,
                           ReadVerifiedArchive(fd.get(), secret, nullptr, progress));
  summary.path = path;
  return summary;
}

Result<RestoreResult> RestoreBackup(const std::string& path, const std::string& target_arg,
                                    const BackupSecret& secret,
                                    const RestoreBackupOptions& options) {
  std::string target = target_arg;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  if (target.empty() || target == "/") {
    return Status::InvalidArgument("restore needs a data folder other than /");
  }
  bool exists = false;
  OUTPOST_RETURN_IF_ERROR(CheckTarget(target, options.force, &exists));
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(path, errno);
  // Pass 1: every byte checked before anything is written.
  OUTPOST_ASSIGN_OR_RETURN(BackupSummary summary,
                           ReadVerifiedArchive(fd.get(), secret, nullptr, options.progress));
  summary.path = path;

  const std::string parent = DirName(target);
  OUTPOST_RETURN_IF_ERROR(MakeDirs(parent, 0755, false));
  const std::string staged =
      parent + "/." + BaseName(target) + ".restoring-" + HexEncode(RandomBytes(6));
  if (mkdir(staged.c_str(), 0700) != 0) return ErrnoStatus(staged, errno);
  Cleanup cleanup;
  cleanup.Add(staged);
  {
    // Pass 2: the same checks again on the bytes actually written, in case the file changed.
    FolderSink sink(staged);
    OUTPOST_RETURN_IF_ERROR(ReadVerifiedArchive(fd.get(), secret, &sink, nullptr).status());
    OUTPOST_RETURN_IF_ERROR(sink.SyncFolders());
  }
  {
    storage::OpenOptions db_options;
    OUTPOST_ASSIGN_OR_RETURN(
        std::unique_ptr<storage::Database> db,
        storage::Database::Open(staged + "/" + kDatabaseMemberName, db_options));
    OUTPOST_RETURN_IF_ERROR(db->Checkpoint());
  }
  bool has_data = exists && !std::filesystem::is_empty(target);
  RestoreResult result;
  OUTPOST_RETURN_IF_ERROR(
      PlaceFolder(staged, target, has_data, options.clock->NowMillis(), &result.replaced));
  cleanup.Release();
  OUTPOST_RETURN_IF_ERROR(SyncDir(parent));
  result.summary = std::move(summary);
  result.target = target;
  return result;
}

Result<std::vector<ListedBackup>> ListBackups(const std::string& dir) {
  std::vector<ListedBackup> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return ErrnoStatus(dir, errno);
  }
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || name.size() < 5 ||
        name.compare(name.size() - 4, 4, ".obk") != 0) {
      continue;
    }
    ListedBackup b;
    b.name = name;
    b.path = dir + "/" + name;
    Result<BackupFileInfo> info = InspectBackupFile(b.path);
    if (info.ok()) {
      b.size = info->size;
      b.created_at = info->header.created_at;
      b.key_kind = info->header.key_kind;
      b.complete = info->complete;
      b.problem = info->problem;
    } else {
      struct stat st;
      if (stat(b.path.c_str(), &st) == 0) b.size = st.st_size;
      b.problem = info.status().message();
    }
    out.push_back(std::move(b));
  }
  closedir(d);
  std::sort(out.begin(), out.end(),
            [](const ListedBackup& a, const ListedBackup& b) { return a.name < b.name; });
  return out;
}

}  // namespace outpost::domain
