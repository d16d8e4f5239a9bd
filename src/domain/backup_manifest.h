// The signed manifest that ends every archive, and the one reading of an archive that both
// `verify` and `restore` use: every member authenticated, hashed and checked against the
// manifest, whose signature must verify with the signing key the archive itself holds.
#ifndef OUTPOST_DOMAIN_BACKUP_MANIFEST_H_
#define OUTPOST_DOMAIN_BACKUP_MANIFEST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "domain/backup.h"
#include "domain/backup_format.h"

namespace outpost::domain {

inline constexpr const char* kManifestMemberName = "MANIFEST";
inline constexpr const char* kSignatureMemberName = "SIGNATURE";
inline constexpr const char* kDatabaseMemberName = "outpost.db";
inline constexpr const char* kSigningPubMemberName = "keys/signing.pub";

// What the manifest lists about one data member (not the manifest or signature themselves).
struct ManifestEntry {
  MemberKind kind = MemberKind::kFile;
  std::string name;
  uint32_t mode = 0;
  uint64_t size = 0;
  std::string blake2b_hex;  // BLAKE2b-256 of the contents, lower-case hex
  bool operator==(const ManifestEntry&) const = default;
};

// The manifest's JSON, exactly the bytes that are signed and stored (docs/backup.md).
std::string EncodeManifest(const std::vector<ManifestEntry>& entries, int64_t created_at,
                           const std::string& signing_public_key);

// Whether a member of `kind` may be called `name`: the database is "outpost.db"; files are
// relative paths under keys/, tls/ or blobs/ with no empty, "." or ".." part, so that a restore
// can never write outside its folder.
bool MemberNameAllowed(MemberKind kind, const std::string& name);

// Receives each data member while the archive is read: Begin, Write (any number of pieces,
// each already authenticated), End. A non-OK Status stops the reading.
class MemberSink {
 public:
  virtual ~MemberSink() = default;
  virtual Status Begin(const MemberHeader& member) = 0;
  virtual Status Write(std::string_view data) = 0;
  virtual Status End() = 0;
};

// Reads the whole archive on `fd` (not owned; read with pread, so it may be read again) and
// checks everything VerifyBackup promises; `sink` (may be null) gets the members as they go
// by. The summary's path is left empty. Errors: see VerifyBackup. Note that the sink has seen
// data before the manifest is checked: a caller that writes must discard it on error.
Result<BackupSummary> ReadVerifiedArchive(int fd, const BackupSecret& secret, MemberSink* sink,
                                          const BackupProgress& progress);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_BACKUP_MANIFEST_H_
