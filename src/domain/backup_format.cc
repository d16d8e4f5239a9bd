#include "domain/backup_format.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "util/fs.h"

namespace outpost::domain {
namespace {

using SecretStream = crypto_secretstream_xchacha20poly1305_state;
constexpr size_t kABytes = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr std::string_view kTrailerMagic = "OBKEND01";
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "OUTPOSTB";
constexpr uint64_t kStreamSubkey = 1;
constexpr uint64_t kCheckSubkey = 2;
constexpr size_t kKeyCheckOffset = 84;
constexpr size_t kMemberHeaderSize = 16;
// Bounds on what a header may ask for, so that a damaged or hostile file cannot make the
// reader allocate gigabytes before anything is authenticated.
constexpr uint32_t kMinChunkSize = 4096;
constexpr uint32_t kMaxChunkSize = 16 << 20;
constexpr uint64_t kMaxOpsLimit = 32;
constexpr uint64_t kMaxMemLimit = crypto_pwhash_MEMLIMIT_SENSITIVE;

const unsigned char* U(const char* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* U(char* p) { return reinterpret_cast<unsigned char*>(p); }

void PutLe(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLe(std::string_view in, size_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= uint64_t{static_cast<unsigned char>(in[offset + i])} << (8 * i);
  }
  return v;
}

std::string EncodeHeaderWithoutCheck(const BackupHeader& h) {
  std::string out(kBackupMagic);
  PutLe(&out, h.version, 1);
  PutLe(&out, static_cast<uint8_t>(h.key_kind), 1);
  PutLe(&out, h.chunk_size, 4);
  PutLe(&out, static_cast<uint64_t>(h.created_at), 8);
  PutLe(&out, h.key_kind == BackupKeyKind::kPassphrase ? crypto_pwhash_ALG_ARGON2ID13 : 0, 1);
  PutLe(&out, 0, 3);
  PutLe(&out, h.opslimit, 8);
  PutLe(&out, h.memlimit, 8);
  out += h.salt;
  out += h.stream_header;
  return out;
}

// The stream key and the key-check key, derived apart from the archive key so that the check
// value says nothing about the key the chunks are encrypted with.
struct DerivedKeys {
  unsigned char stream[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  unsigned char check[crypto_generichash_KEYBYTES];
  ~DerivedKeys() { sodium_memzero(this, sizeof(*this)); }
};

Status DeriveKeys(const BackupSecret& secret, const BackupHeader& h, DerivedKeys* keys) {
  if (secret.kind != h.key_kind) {
    return Status::InvalidArgument(
        h.key_kind == BackupKeyKind::kPassphrase
            ? "this backup is encrypted with a passphrase, not a key file"
            : "this backup is encrypted with a key file, not a passphrase");
  }
  SecretString base(std::string(kBackupKeyBytes, '\0'));
  if (secret.kind == BackupKeyKind::kKeyFile) {
    if (secret.secret.size() != kBackupKeyBytes) {
      return Status::InvalidArgument("a backup key is exactly 32 bytes");
    }
    *base.mutable_value() = secret.secret.value();
  } else if (crypto_pwhash(U(base.mutable_value()->data()), kBackupKeyBytes,
                           secret.secret.value().data(), secret.secret.size(), U(h.salt.data()),
                           h.opslimit, h.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::ResourceExhausted("argon2id could not run (not enough memory?)");
  }
  crypto_kdf_derive_from_key(keys->stream, sizeof(keys->stream), kStreamSubkey, kKdfContext,
                             U(base.value().data()));
  crypto_kdf_derive_from_key(keys->check, sizeof(keys->check), kCheckSubkey, kKdfContext,
                             U(base.value().data()));
  return Status::Ok();
}

// Covers only the fields that decide the key (magic, version, key kind, argon2id parameters,
// salt): a wrong key fails here, while a change to any other header field (time, chunk size,
// stream header) passes here and fails the chunks' authentication, reported as damage.
std::string KeyCheck(const DerivedKeys& keys, std::string_view header) {
  std::string in = std::string(header.substr(0, 12)) + std::string(header.substr(24, 36));
  std::string out(16, '\0');
  crypto_generichash(U(out.data()), out.size(), U(in.data()), in.size(), keys.check,
                     sizeof(keys.check));
  return out;
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("writing the backup", errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Reads exactly `n` bytes at `offset`; fewer only at the end of the file.
Result<std::string> ReadAt(int fd, int64_t offset, size_t n) {
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    ssize_t r = pread(fd, out.data() + done, n - done, offset + static_cast<int64_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoStatus("reading the backup", errno);
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  out.resize(done);
  return out;
}

Status CutShort(std::string_view what) {
  return Status::Corruption("the backup is cut short or damaged: " + std::string(what));
}

}  // namespace

Result<BackupHeader> DecodeBackupHeader(std::string_view b) {
  if (b.size() < kBackupMagic.size()) {
    if (kBackupMagic.substr(0, b.size()) == b) return CutShort("no complete header");
    return Status::InvalidArgument("not an Outpost backup (no OUTPOSTBK1 header)");
  }
  if (b.substr(0, kBackupMagic.size()) != kBackupMagic) {
    return Status::InvalidArgument("not an Outpost backup (no OUTPOSTBK1 header)");
  }
  if (b.size() < kBackupHeaderSize) return CutShort("no complete header");
  BackupHeader h;
  h.version = static_cast<uint8_t>(b[10]);
  if (h.version == 0) return Status::Corruption("backup header: format version 0");
  if (h.version > kBackupFormatVersion) {
    return Status::FailedPrecondition(
        "the backup has format version " + std::to_string(h.version) +
        ", newer than this outpost reads (" + std::to_string(kBackupFormatVersion) + ")");
  }
  uint8_t kind = static_cast<uint8_t>(b[11]);
  if (kind != 1 && kind != 2) return Status::Corruption("backup header: unknown key kind");
  h.key_kind = static_cast<BackupKeyKind>(kind);
  h.chunk_size = static_cast<uint32_t>(GetLe(b, 12, 4));
  h.created_at = static_cast<int64_t>(GetLe(b, 16, 8));
  uint8_t alg = static_cast<uint8_t>(b[24]);
  h.opslimit = GetLe(b, 28, 8);
  h.memlimit = GetLe(b, 36, 8);
  h.salt = std::string(b.substr(44, 16));
  h.stream_header = std::string(b.substr(60, 24));
  h.key_check = std::string(b.substr(kKeyCheckOffset, 16));
  if (h.chunk_size < kMinChunkSize || h.chunk_size > kMaxChunkSize) {
    return Status::Corruption("backup header: chunk size out of range");
  }
  if (h.key_kind == BackupKeyKind::kPassphrase) {
    if (alg != crypto_pwhash_ALG_ARGON2ID13 || h.opslimit < crypto_pwhash_OPSLIMIT_MIN ||
        h.opslimit > kMaxOpsLimit || h.memlimit < crypto_pwhash_MEMLIMIT_MIN ||
        h.memlimit > kMaxMemLimit) {
      return Status::Corruption("backup header: argon2id parameters out of range");
    }
  } else if (alg != 0 || h.opslimit != 0 || h.memlimit != 0) {
    return Status::Corruption("backup header: key-file archive with passphrase parameters");
  }
  return h;
}

Result<BackupFileInfo> InspectBackupFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return ErrnoStatus(path, err);
  }
  BackupFileInfo info;
  info.size = st.st_size;
  Result<std::string> head = ReadAt(fd, 0, kBackupHeaderSize);
  Result<std::string> tail = Status::Ok();
  if (head.ok() && info.size >= static_cast<int64_t>(kBackupTrailerSize)) {
    tail = ReadAt(fd, info.size - static_cast<int64_t>(kBackupTrailerSize), kBackupTrailerSize);
  }
  close(fd);
  if (!head.ok()) return head.status();
  OUTPOST_ASSIGN_OR_RETURN(info.header, DecodeBackupHeader(*head));
  if (info.size < static_cast<int64_t>(kBackupHeaderSize + kABytes + kBackupTrailerSize) ||
      !tail.ok() || tail->substr(0, kTrailerMagic.size()) != kTrailerMagic) {
    info.problem = "no end marker: cut short, or still being written";
  } else if (GetLe(*tail, 8, 8) != static_cast<uint64_t>(info.size)) {
    info.problem = "the end marker names another length: cut or damaged";
  } else {
    info.complete = true;
  }
  return info;
}

// ---------------------------------------------------------------------------------------------

struct ArchiveWriter::State {
  SecretStream stream;
  std::string header;  // all kBackupHeaderSize bytes: the additional data of every chunk
  uint32_t chunk_size = kBackupChunkSize;
  ~State() { sodium_memzero(&stream, sizeof(stream)); }
};

ArchiveWriter::ArchiveWriter(int fd) : fd_(fd), state_(std::make_unique<State>()) {}

ArchiveWriter::~ArchiveWriter() {
  // The plaintext holds keys and database pages.
  WipeString(&plain_);
}

Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::Begin(int fd, const BackupSecret& secret,
                                                            int64_t created_at,
                                                            uint32_t chunk_size) {
  if (chunk_size < kMinChunkSize || chunk_size > kMaxChunkSize) {
    return Status::InvalidArgument("backup chunk size out of range");
  }
  BackupHeader h;
  h.key_kind = secret.kind;
  h.chunk_size = chunk_size;
  h.created_at = created_at;
  h.salt = std::string(crypto_pwhash_SALTBYTES, '\0');
  if (secret.kind == BackupKeyKind::kPassphrase) {
    bool moderate = secret.cost == KdfCost::kModerate;
    h.opslimit = moderate ? crypto_pwhash_OPSLIMIT_MODERATE : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    h.memlimit = moderate ? crypto_pwhash_MEMLIMIT_MODERATE : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    h.salt = RandomBytes(crypto_pwhash_SALTBYTES);
  }
  DerivedKeys keys;
  OUTPOST_RETURN_IF_ERROR(DeriveKeys(secret, h, &keys));
  std::unique_ptr<ArchiveWriter> w(new ArchiveWriter(fd));
  h.stream_header = std::string(crypto_secretstream_xchacha20poly1305_HEADERBYTES, '\0');
  crypto_secretstream_xchacha20poly1305_init_push(&w->state_->stream, U(h.stream_header.data()),
                                                  keys.stream);
  std::string bytes = EncodeHeaderWithoutCheck(h);
  bytes += KeyCheck(keys, bytes);
  w->state_->header = bytes;
  w->state_->chunk_size = chunk_size;
  w->plain_.reserve(chunk_size);
  OUTPOST_RETURN_IF_ERROR(WriteAll(fd, bytes));
  w->written_ = static_cast<int64_t>(bytes.size());
  return w;
}

Status ArchiveWriter::PushChunk(bool final) {
  cipher_.resize(plain_.size() + kABytes);
  unsigned long long len = 0;
  const std::string& ad = state_->header;
  crypto_secretstream_xchacha20poly1305_push(
      &state_->stream, U(cipher_.data()), &len, U(plain_.data()), plain_.size(), U(ad.data()),
      ad.size(),
      final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  sodium_memzero(plain_.data(), plain_.size());
  plain_.clear();
  OUTPOST_RETURN_IF_ERROR(WriteAll(fd_, std::string_view(cipher_.data(), len)));
  written_ += static_cast<int64_t>(len);
  return Status::Ok();
}

Status ArchiveWriter::Append(std::string_view data) {
  while (!data.empty()) {
    size_t take = std::min<size_t>(state_->chunk_size - plain_.size(), data.size());
    plain_.append(data.data(), take);
    data.remove_prefix(take);
    if (plain_.size() == state_->chunk_size) OUTPOST_RETURN_IF_ERROR(PushChunk(false));
  }
  return Status::Ok();
}

Status ArchiveWriter::BeginMember(const MemberHeader& m) {
  if (finished_ || member_left_ != 0) {
    return Status::InvalidArgument("backup member started before the previous one ended");
  }
  if (m.name.empty() || m.name.size() > kMaxMemberNameBytes) {
    return Status::InvalidArgument("backup member name empty or too long: " + m.name);
  }
  std::string h;
  PutLe(&h, static_cast<uint8_t>(m.kind), 1);
  PutLe(&h, 0, 1);
  PutLe(&h, m.name.size(), 2);
  PutLe(&h, m.mode, 4);
  PutLe(&h, m.size, 8);
  OUTPOST_RETURN_IF_ERROR(Append(h));
  OUTPOST_RETURN_IF_ERROR(Append(m.name));
  member_left_ = m.size;
  return Status::Ok();
}

Status ArchiveWriter::Write(std::string_view data) {
  if (data.size() > member_left_) {
    return Status::InvalidArgument("more data than the backup member's declared size");
  }
  member_left_ -= data.size();
  return Append(data);
}

Status ArchiveWriter::Finish() {
  if (finished_ || member_left_ != 0) {
    return Status::InvalidArgument("backup finished in the middle of a member");
  }
  OUTPOST_RETURN_IF_ERROR(PushChunk(true));
  finished_ = true;
  std::string trailer(kTrailerMagic);
  PutLe(&trailer, static_cast<uint64_t>(written_ + kBackupTrailerSize), 8);
  OUTPOST_RETURN_IF_ERROR(WriteAll(fd_, trailer));
  written_ += static_cast<int64_t>(trailer.size());
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------

struct ArchiveReader::State {
  SecretStream stream;
  std::string header;
  std::string cipher;
  ~State() { sodium_memzero(&stream, sizeof(stream)); }
};

ArchiveReader::ArchiveReader(int fd) : fd_(fd), state_(std::make_unique<State>()) {}

ArchiveReader::~ArchiveReader() { WipeString(&plain_); }

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::Open(int fd, const BackupSecret& secret) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus("reading the backup", errno);
  std::unique_ptr<ArchiveReader> r(new ArchiveReader(fd));
  r->file_size_ = st.st_size;
  OUTPOST_ASSIGN_OR_RETURN(std::string head, ReadAt(fd, 0, kBackupHeaderSize));
  OUTPOST_ASSIGN_OR_RETURN(r->header_, DecodeBackupHeader(head));
  DerivedKeys keys;
  OUTPOST_RETURN_IF_ERROR(DeriveKeys(secret, r->header_, &keys));
  if (!ConstantTimeEquals(KeyCheck(keys, head), r->header_.key_check)) {
    return Status::Unauthenticated("wrong key or passphrase, or not an Outpost backup");
  }
  const int64_t min_size = kBackupHeaderSize + kABytes + kBackupTrailerSize;
  if (r->file_size_ < min_size) return CutShort("no data after the header");
  OUTPOST_ASSIGN_OR_RETURN(std::string tail,
                           ReadAt(fd, r->file_size_ - kBackupTrailerSize, kBackupTrailerSize));
  if (tail.substr(0, kTrailerMagic.size()) != kTrailerMagic ||
      GetLe(tail, 8, 8) != static_cast<uint64_t>(r->file_size_)) {
    return CutShort("the end marker is missing or names another length");
  }
  if (crypto_secretstream_xchacha20poly1305_init_pull(
          &r->state_->stream, U(r->header_.stream_header.data()), keys.stream) != 0) {
    return Status::Corruption("backup header: invalid stream header");
  }
  r->state_->header = std::move(head);
  r->read_ = kBackupHeaderSize;
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return r;
}

Status ArchiveReader::PullChunk() {
  const int64_t body_end = file_size_ - static_cast<int64_t>(kBackupTrailerSize);
  const int64_t left = body_end - read_;
  if (final_seen_ || left < static_cast<int64_t>(kABytes)) {
    return CutShort("the last chunk is missing");
  }
  size_t n = static_cast<size_t>(std::min<int64_t>(header_.chunk_size + kABytes, left));
  std::string& cipher = state_->cipher;
  cipher.resize(n);
  size_t done = 0;
  while (done < n) {
    ssize_t got = pread(fd_, cipher.data() + done, n - done, read_ + static_cast<int64_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return ErrnoStatus("reading the backup", errno);
    if (got == 0) return CutShort("the file shrank while being read");
    done += static_cast<size_t>(got);
  }
  plain_.resize(n - kABytes);
  plain_pos_ = 0;
  unsigned long long len = 0;
  unsigned char tag = 0;
  const std::string& ad = state_->header;
  if (crypto_secretstream_xchacha20poly1305_pull(&state_->stream, U(plain_.data()), &len, &tag,
                                                 U(cipher.data()), n, U(ad.data()),
                                                 ad.size()) != 0) {
    return Status::Corruption("the backup fails authentication at byte " + std::to_string(read_) +
                              ": it was changed, damaged or spliced from another archive");
  }
  read_ += static_cast<int64_t>(n);
  if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
    if (read_ != body_end) return Status::Corruption("the backup has data after its last chunk");
    final_seen_ = true;
  } else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE ||
             len != header_.chunk_size) {
    return Status::Corruption("the backup has a malformed chunk at byte " +
                              std::to_string(read_ - static_cast<int64_t>(n)));
  } else if (read_ == body_end) {
    return CutShort("the last chunk is missing");
  }
  return Status::Ok();
}

Status ArchiveReader::ReadExact(char* buf, size_t n) {
  while (n > 0) {
    if (plain_pos_ == plain_.size()) {
      if (final_seen_) return Status::Corruption("the backup ends inside a member");
      OUTPOST_RETURN_IF_ERROR(PullChunk());
      continue;
    }
    size_t take = std::min(n, plain_.size() - plain_pos_);
    memcpy(buf, plain_.data() + plain_pos_, take);
    plain_pos_ += take;
    buf += take;
    n -= take;
  }
  return Status::Ok();
}

Result<bool> ArchiveReader::NextMember(MemberHeader* member) {
  if (member_left_ != 0) return Status::Internal("backup member not read to its end");
  while (plain_pos_ == plain_.size()) {
    if (final_seen_) return false;
    OUTPOST_RETURN_IF_ERROR(PullChunk());
  }
  char h[kMemberHeaderSize];
  OUTPOST_RETURN_IF_ERROR(ReadExact(h, sizeof(h)));
  std::string_view hv(h, sizeof(h));
  uint8_t kind = static_cast<uint8_t>(h[0]);
  size_t name_len = GetLe(hv, 2, 2);
  if (kind < 1 || kind > 4 || h[1] != 0 || name_len == 0 || name_len > kMaxMemberNameBytes) {
    return Status::Corruption("the backup has a malformed member header");
  }
  member->kind = static_cast<MemberKind>(kind);
  member->mode = static_cast<uint32_t>(GetLe(hv, 4, 4));
  member->size = GetLe(hv, 8, 8);
  member->name.resize(name_len);
  OUTPOST_RETURN_IF_ERROR(ReadExact(member->name.data(), name_len));
  member_left_ = member->size;
  return true;
}

Result<size_t> ArchiveReader::Read(char* buf, size_t n) {
  size_t take = static_cast<size_t>(std::min<uint64_t>(n, member_left_));
  if (take == 0) return size_t{0};
  OUTPOST_RETURN_IF_ERROR(ReadExact(buf, take));
  member_left_ -= take;
  return take;
}

}  // namespace outpost::domain
