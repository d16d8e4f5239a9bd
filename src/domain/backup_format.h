// The byte layout of a backup archive (docs/backup.md, "What is in an archive"):
//
//   header   100 bytes, plaintext: magic "OUTPOSTBK1", format version, key kind, chunk size,
//            creation time, argon2id parameters and salt (passphrase only), the secretstream
//            header and a 16-byte key check
//   chunks   crypto_secretstream_xchacha20poly1305: every chunk carries `chunk_size` bytes of
//            the member stream (the last one fewer, tagged TAG_FINAL), each authenticated with
//            the whole header as additional data
//   trailer  16 bytes, plaintext: "OBKEND01" and the archive's length, so that `backup list`
//            can tell a complete file from a cut one without the key
//
// The member stream is a sequence of members, each a 16-byte member header (kind, name
// length, mode, size), the name, then `size` bytes of data. ArchiveWriter and ArchiveReader
// handle the framing and the encryption; what the members mean (manifest, signature) is
// domain/backup.h's business.
#ifndef OUTPOST_DOMAIN_BACKUP_FORMAT_H_
#define OUTPOST_DOMAIN_BACKUP_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/crypto.h"
#include "util/status.h"

namespace outpost::domain {

inline constexpr std::string_view kBackupMagic = "OUTPOSTBK1";
inline constexpr uint8_t kBackupFormatVersion = 1;
inline constexpr size_t kBackupHeaderSize = 100;
inline constexpr size_t kBackupTrailerSize = 16;
inline constexpr uint32_t kBackupChunkSize = 64 * 1024;
inline constexpr size_t kBackupKeyBytes = 32;
inline constexpr size_t kMaxMemberNameBytes = 1024;

enum class BackupKeyKind : uint8_t { kKeyFile = 1, kPassphrase = 2 };

// argon2id cost for a passphrase. kModerate (libsodium's MODERATE preset: 3 passes, 256 MiB)
// is what the CLI uses; kInteractive exists so that tests run quickly.
enum class KdfCost { kModerate, kInteractive };

// What an archive is encrypted with: the 32 bytes of a key file, or a passphrase that argon2id
// turns into a key with the salt stored in the header. Move-only; the secret is wiped.
struct BackupSecret {
  BackupKeyKind kind = BackupKeyKind::kKeyFile;
  SecretString secret;
  KdfCost cost = KdfCost::kModerate;  // used when creating with a passphrase
};

// The plaintext header, decoded.
struct BackupHeader {
  uint8_t version = kBackupFormatVersion;
  BackupKeyKind key_kind = BackupKeyKind::kKeyFile;
  uint32_t chunk_size = kBackupChunkSize;
  int64_t created_at = 0;  // unix milliseconds
  uint64_t opslimit = 0;   // argon2id; 0 for a key file
  uint64_t memlimit = 0;
  std::string salt;           // 16 bytes; zeros for a key file
  std::string stream_header;  // 24 bytes
  std::string key_check;      // 16 bytes
};

// Decodes the first kBackupHeaderSize bytes of an archive (fewer when the file is shorter).
// Errors: InvalidArgument "not an Outpost backup" when the magic is wrong; Corruption when the
// file is cut inside the header or a field is out of range; FailedPrecondition for a newer
// format version. Does not check the key. Thread-safe.
Result<BackupHeader> DecodeBackupHeader(std::string_view bytes);

// Reads the header and trailer of the archive at `path` without a key. `complete` is false
// (with the reason in `problem`) when the trailer is missing or names another length: a cut or
// still-growing file. Errors: those of DecodeBackupHeader, IoError/NotFound from the system.
struct BackupFileInfo {
  BackupHeader header;
  int64_t size = 0;
  bool complete = false;
  std::string problem;
};
Result<BackupFileInfo> InspectBackupFile(const std::string& path);

enum class MemberKind : uint8_t { kDatabase = 1, kFile = 2, kManifest = 3, kSignature = 4 };

struct MemberHeader {
  MemberKind kind = MemberKind::kFile;
  std::string name;
  uint32_t mode = 0600;  // permission bits the file had
  uint64_t size = 0;
};

// Writes one archive to an open file descriptor (not owned). Call Begin, then for each member
// BeginMember, Write its exact size in any pieces, then Finish. Holds one chunk of plaintext
// and one of ciphertext in memory whatever the member sizes. Not thread-safe.
class ArchiveWriter {
 public:
  // Derives the key (argon2id for a passphrase: slow on purpose) and writes the header.
  static Result<std::unique_ptr<ArchiveWriter>> Begin(int fd, const BackupSecret& secret,
                                                      int64_t created_at,
                                                      uint32_t chunk_size = kBackupChunkSize);
  ~ArchiveWriter();
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  // InvalidArgument when the previous member is not complete or the name is too long.
  Status BeginMember(const MemberHeader& member);
  // InvalidArgument when more than the member's size is written.
  Status Write(std::string_view data);
  // Pushes the final chunk and the trailer. InvalidArgument when a member is incomplete.
  Status Finish();

  // Bytes written to the file so far.
  int64_t bytes_written() const { return written_; }

 private:
  struct State;
  explicit ArchiveWriter(int fd);
  Status PushChunk(bool final);
  Status Append(std::string_view data);

  int fd_;
  std::unique_ptr<State> state_;  // the secretstream state and header bytes; never null
  std::string plain_;             // < chunk_size bytes waiting for the next chunk
  std::string cipher_;
  uint64_t member_left_ = 0;  // bytes the current member still expects
  int64_t written_ = 0;
  bool finished_ = false;
};

// Reads one archive from an open file descriptor (not owned), decrypting and authenticating
// every chunk before a byte of it is returned. Not thread-safe.
class ArchiveReader {
 public:
  // Reads the header and the trailer and checks the key. Errors: those of DecodeBackupHeader;
  // InvalidArgument when the archive wants the other kind of secret; Unauthenticated "wrong
  // key or passphrase, or not an Outpost backup"; Corruption when the file is cut.
  static Result<std::unique_ptr<ArchiveReader>> Open(int fd, const BackupSecret& secret);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // Reads the next member header into `*member`: true when there is one, false at the end of
  // the stream (after the TAG_FINAL chunk). The previous member's data must have been read.
  // Corruption on any damage.
  Result<bool> NextMember(MemberHeader* member);
  // Reads up to `n` bytes of the current member's data into `buf`; 0 when it is all read.
  Result<size_t> Read(char* buf, size_t n);

  const BackupHeader& header() const { return header_; }
  int64_t file_size() const { return file_size_; }
  // Archive bytes authenticated so far.
  int64_t bytes_read() const { return read_; }

 private:
  struct State;
  explicit ArchiveReader(int fd);
  Status PullChunk();
  Status ReadExact(char* buf, size_t n);  // from the member stream, across chunks

  int fd_;
  std::unique_ptr<State> state_;
  BackupHeader header_;
  int64_t file_size_ = 0;
  int64_t read_ = 0;   // offset of the next chunk in the file
  std::string plain_;  // the current chunk's plaintext
  size_t plain_pos_ = 0;
  bool final_seen_ = false;  // the TAG_FINAL chunk has been pulled
  uint64_t member_left_ = 0;
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_BACKUP_FORMAT_H_
