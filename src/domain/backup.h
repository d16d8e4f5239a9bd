// Online, encrypted, signed backups of one appliance (DESIGN.md decision 6; docs/backup.md):
// create while the server runs, verify every byte without writing anything, restore all or
// nothing, list what a folder holds.
//
// An archive holds the database (a snapshot made with SQLite's online backup API, never a copy
// of the live file), every file under blobs/, keys/ and tls/, and last a manifest (every
// member's name, mode, size and BLAKE2b-256, the creation time, the versions and the signing
// public key) with an ed25519 signature by the appliance's signing key. The byte layout is in
// domain/backup_format.h. Because keys/ is inside, an archive is as secret as the keys: it is
// always encrypted, with a key file or a passphrase.
//
// All functions are thread-compatible: they share no state, but two restores into one folder
// at the same time are the caller's problem.
#ifndef OUTPOST_DOMAIN_BACKUP_H_
#define OUTPOST_DOMAIN_BACKUP_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "domain/appliance.h"
#include "domain/backup_format.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

// Called now and then with bytes done and bytes expected; for a progress line.
using BackupProgress = std::function<void(int64_t done, int64_t total)>;

// What an archive holds, from its verified manifest (or, after create, from what was written).
struct BackupSummary {
  std::string path;
  int64_t created_at = 0;  // unix milliseconds
  int format_version = 0;
  std::string outpost_version;     // of the binary that made it
  std::string signing_public_key;  // hex, the key the manifest is signed with
  BackupKeyKind key_kind = BackupKeyKind::kKeyFile;
  int64_t members = 0;       // files, the database included; not the manifest or signature
  int64_t bytes = 0;         // of those members' contents
  int64_t archive_size = 0;  // of the archive file
  // Create only: paths under the data folder that were not regular files and were left out.
  std::vector<std::string> skipped;
};

// A new random backup key written to `path` (mode 0600, atomically). AlreadyExists when the
// file exists: a key that encrypts archives is never overwritten.
Status CreateBackupKeyFile(const std::string& path);

// Reads a key file made by CreateBackupKeyFile. InvalidArgument when it is not 32 bytes;
// NotFound/IoError from the system.
Result<BackupSecret> LoadBackupKeyFile(const std::string& path);

struct CreateBackupOptions {
  // Empty: <data>/backups/outpost-<UTC time>.obk. AlreadyExists when the file exists.
  std::string out_path;
  const Clock* clock = SystemClock();
  int busy_timeout_ms = 5000;  // for the database snapshot
  uint32_t chunk_size = kBackupChunkSize;
  BackupProgress progress;  // may be empty
};

// Writes an archive of the data folder `layout` while the server may be running. The
// database snapshot is taken in <data>/backups/ (0700) and deleted after; the archive is
// written to a hidden temporary name in its folder, synced, and renamed into place only when
// complete (mode 0600). `keys` sign the manifest: normally LoadKeys(layout). Errors: NotFound
// (no database), AlreadyExists (output exists), IoError, Unavailable (database busy past the
// timeout). On error no archive and no temporary file is left.
Result<BackupSummary> CreateBackup(const DataLayout& layout, const ApplianceKeys& keys,
                                   const BackupSecret& secret, const CreateBackupOptions& options);

// Reads the whole archive and checks every chunk's authentication, the final tag, every
// member's hash, size and mode against the manifest, that no member is missing or extra,
// that the manifest is signed by the signing key the archive itself holds, and that the
// manifest's time matches the header's. Writes nothing. Errors: Unauthenticated (wrong key or
// passphrase), InvalidArgument (not a backup, or the other kind of secret), Corruption
// (tampered, cut, spliced, badly signed), FailedPrecondition (newer format), IoError.
Result<BackupSummary> VerifyBackup(const std::string& path, const BackupSecret& secret,
                                   const BackupProgress& progress = nullptr);

struct RestoreBackupOptions {
  // Replace a folder that is not empty; the old one is kept as <target>.replaced-<UTC time>.
  bool force = false;
  const Clock* clock = SystemClock();
  BackupProgress progress;  // may be empty
};

struct RestoreResult {
  BackupSummary summary;
  std::string target;
  std::string replaced;  // where the old folder went; empty when there was none
};

// Verifies the archive completely (as VerifyBackup), then extracts it into a temporary folder
// next to `target`, verifying again as it writes, opens and migrates the restored database,
// and only then renames the folder into place (atomically exchanged with the old folder when
// `force` replaces one). The target is never left half-restored: on any error the temporary
// folder is removed and the target is as it was. Errors: those of VerifyBackup, and
// FailedPrecondition when the target is not empty without `force`, is not a folder, or is a
// mount point (the temporary folder must be on the same file system).
Result<RestoreResult> RestoreBackup(const std::string& path, const std::string& target,
                                    const BackupSecret& secret,
                                    const RestoreBackupOptions& options);

// One *.obk file of a folder, described from its plaintext header and trailer only (nothing is
// authenticated without the key: run VerifyBackup for that).
struct ListedBackup {
  std::string name;
  std::string path;
  int64_t size = 0;
  int64_t created_at = 0;  // unix milliseconds; 0 when the header is unreadable
  BackupKeyKind key_kind = BackupKeyKind::kKeyFile;
  bool complete = false;
  std::string problem;  // why it is not complete; empty when it is
};

// The archives in `dir`, by name; an empty list when the folder does not exist. IoError when
// it cannot be read.
Result<std::vector<ListedBackup>> ListBackups(const std::string& dir);

// "20261123T010203Z": the UTC time used in archive and folder names.
std::string CompactUtcTime(UnixMillis t);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_BACKUP_H_
