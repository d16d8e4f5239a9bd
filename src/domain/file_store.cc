#include "domain/file_store.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "util/fs.h"

namespace outpost::domain {
namespace {

constexpr std::string_view kMagic = "OPB1";
constexpr size_t kHeadBytes = 4096;
constexpr size_t kCipherChunk = kBlobChunkBytes + crypto_secretstream_xchacha20poly1305_ABYTES;

std::string Derive(std::string_view master_key, std::string_view purpose) {
  std::string key(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(purpose.data()), purpose.size(),
                     reinterpret_cast<const unsigned char*>(master_key.data()), master_key.size());
  return key;
}

Status WriteError(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return Status::InsufficientStorage("the disk holding the file store is full");
  }
  return ErrnoStatus(what, err);
}

bool IsHexName(std::string_view name) {
  if (name.size() != 64) return false;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? Status::Ok() : ErrnoStatus(dir, err);
}

// Reads exactly n bytes unless the file ends first; returns the count read or -1.
ssize_t ReadFull(int fd, unsigned char* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

}  // namespace

BlobKeys BlobKeys::Derive(std::string_view master_key) {
  BlobKeys k;
  k.name_key = SecretString(domain::Derive(master_key, "outpost blob name key v1"));
  k.wrap_key = SecretString(domain::Derive(master_key, "outpost blob key wrap v1"));
  return k;
}

std::string WrapBlobKey(const BlobKeys& keys, std::string_view blob_key) {
  std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + blob_key.size(), 0);
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(p, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(p + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(blob_key.data()), blob_key.size(),
                        p, reinterpret_cast<const unsigned char*>(keys.wrap_key.value().data()));
  return out;
}

Result<SecretString> UnwrapBlobKey(const BlobKeys& keys, std::string_view wrapped) {
  const size_t overhead = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
  if (wrapped.size() != overhead + crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    return Status::Corruption("a wrapped blob key has the wrong length");
  }
  SecretString key(std::string(wrapped.size() - overhead, '\0'));
  const auto* p = reinterpret_cast<const unsigned char*>(wrapped.data());
  if (crypto_secretbox_open_easy(
          reinterpret_cast<unsigned char*>(key.mutable_value()->data()),
          p + crypto_secretbox_NONCEBYTES, wrapped.size() - crypto_secretbox_NONCEBYTES, p,
          reinterpret_cast<const unsigned char*>(keys.wrap_key.value().data())) != 0) {
    return Status::Corruption("a blob key does not unwrap with this appliance's master key");
  }
  return key;
}

std::string BlobPath(const std::string& root, std::string_view name) {
  if (!IsHexName(name)) return "";
  return root + "/" + std::string(name.substr(0, 2)) + "/" + std::string(name);
}

std::string BlobNameOf(const BlobKeys& keys, std::string_view plaintext) {
  unsigned char h[32];
  crypto_generichash(h, sizeof(h), reinterpret_cast<const unsigned char*>(plaintext.data()),
                     plaintext.size(),
                     reinterpret_cast<const unsigned char*>(keys.name_key.value().data()),
                     keys.name_key.size());
  return HexEncode(std::string_view(reinterpret_cast<const char*>(h), sizeof(h)));
}

Result<std::unique_ptr<BlobWriter>> BlobWriter::Create(const std::string& root,
                                                       const BlobKeys* keys) {
  OUTPOST_RETURN_IF_ERROR(MakeDirs(root + "/tmp", 0700));
  std::unique_ptr<BlobWriter> w(new BlobWriter());
  w->root_ = root;
  w->keys_ = keys;
  w->tmp_path_ = root + "/tmp/" + HexEncode(RandomBytes(16));
  w->fd_ = ::open(w->tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (w->fd_ < 0) return WriteError(w->tmp_path_, errno);
  w->key_ = SecretString(RandomBytes(crypto_secretstream_xchacha20poly1305_KEYBYTES));
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_init_push(
      &w->state_, header, reinterpret_cast<const unsigned char*>(w->key_.value().data()));
  crypto_generichash_init(&w->hash_,
                          reinterpret_cast<const unsigned char*>(keys->name_key.value().data()),
                          keys->name_key.size(), 32);
  OUTPOST_RETURN_IF_ERROR(
      w->WriteAll(reinterpret_cast<const unsigned char*>(kMagic.data()), kMagic.size()));
  OUTPOST_RETURN_IF_ERROR(w->WriteAll(header, sizeof(header)));
  return w;
}

BlobWriter::~BlobWriter() {
  Discard();
  sodium_memzero(&state_, sizeof(state_));
  WipeString(&pending_);
  WipeString(&head_);
}

void BlobWriter::Discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
  tmp_path_.clear();
}

Status BlobWriter::WriteAll(const unsigned char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return WriteError("writing a blob", errno);
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status BlobWriter::WriteChunk(bool final) {
  std::string out(pending_.size() + crypto_secretstream_xchacha20poly1305_ABYTES, '\0');
  crypto_secretstream_xchacha20poly1305_push(
      &state_, reinterpret_cast<unsigned char*>(out.data()), nullptr,
      reinterpret_cast<const unsigned char*>(pending_.data()), pending_.size(), nullptr, 0,
      final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
  WipeString(&pending_);
  pending_.clear();
  return WriteAll(reinterpret_cast<const unsigned char*>(out.data()), out.size());
}

Status BlobWriter::Append(std::string_view bytes) {
  if (fd_ < 0) return Status::FailedPrecondition("the blob writer is closed");
  if (head_.size() < kHeadBytes) head_.append(bytes.substr(0, kHeadBytes - head_.size()));
  crypto_generichash_update(&hash_, reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
  size_ += bytes.size();
  while (!bytes.empty()) {
    size_t take = std::min(bytes.size(), kBlobChunkBytes - pending_.size());
    pending_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (pending_.size() == kBlobChunkBytes) OUTPOST_RETURN_IF_ERROR(WriteChunk(false));
  }
  return Status::Ok();
}

Status BlobWriter::Finish() {
  if (fd_ < 0) return Status::FailedPrecondition("the blob writer is closed");
  OUTPOST_RETURN_IF_ERROR(WriteChunk(true));
  if (::fsync(fd_) != 0) return WriteError("fsync of a blob", errno);
  unsigned char h[32];
  crypto_generichash_final(&hash_, h, sizeof(h));
  name_ = HexEncode(std::string_view(reinterpret_cast<const char*>(h), sizeof(h)));
  wrapped_ = WrapBlobKey(*keys_, key_.value());
  return Status::Ok();
}

Status BlobWriter::Commit() {
  if (name_.empty()) return Status::FailedPrecondition("Commit before Finish");
  if (committed_) return Status::Ok();  // a transaction that runs the commit again
  std::string dir = root_ + "/" + name_.substr(0, 2);
  OUTPOST_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::string path = BlobPath(root_, name_);
  if (::rename(tmp_path_.c_str(), path.c_str()) != 0) return WriteError(path, errno);
  tmp_path_.clear();
  committed_ = true;
  ::close(fd_);
  fd_ = -1;
  return FsyncDir(dir);
}

Result<std::unique_ptr<BlobReader>> BlobReader::Open(const std::string& root,
                                                     const BlobKeys& keys, std::string_view name,
                                                     std::string_view wrapped_key) {
  std::string path = BlobPath(root, name);
  if (path.empty()) return Status::Corruption("a blob name is not 64 hex characters");
  std::unique_ptr<BlobReader> r(new BlobReader());
  r->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (r->fd_ < 0) {
    if (errno == ENOENT) return Status::NotFound("blob " + std::string(name) + " is missing");
    return ErrnoStatus(path, errno);
  }
  OUTPOST_ASSIGN_OR_RETURN(r->key_, UnwrapBlobKey(keys, wrapped_key));
  OUTPOST_RETURN_IF_ERROR(r->Rewind());
  return r;
}

BlobReader::~BlobReader() {
  if (fd_ >= 0) ::close(fd_);
  sodium_memzero(&state_, sizeof(state_));
}

Status BlobReader::Rewind() {
  if (::lseek(fd_, 0, SEEK_SET) != 0) return ErrnoStatus("seek in a blob", errno);
  unsigned char start[4 + crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  if (ReadFull(fd_, start, sizeof(start)) != static_cast<ssize_t>(sizeof(start)) ||
      std::string_view(reinterpret_cast<char*>(start), 4) != kMagic) {
    return Status::Corruption("a blob has no valid header");
  }
  if (crypto_secretstream_xchacha20poly1305_init_pull(
          &state_, start + 4, reinterpret_cast<const unsigned char*>(key_.value().data())) != 0) {
    return Status::Corruption("a blob has an invalid stream header");
  }
  done_ = false;
  position_ = 0;
  return Status::Ok();
}

Status BlobReader::Next(std::string* out) {
  out->clear();
  if (done_) return Status::Ok();
  std::string in(kCipherChunk, '\0');
  ssize_t n = ReadFull(fd_, reinterpret_cast<unsigned char*>(in.data()), in.size());
  if (n < 0) return ErrnoStatus("reading a blob", errno);
  if (static_cast<size_t>(n) < crypto_secretstream_xchacha20poly1305_ABYTES) {
    return Status::Corruption("a blob ends before its final chunk");
  }
  out->resize(static_cast<size_t>(n) - crypto_secretstream_xchacha20poly1305_ABYTES);
  unsigned long long len = 0;
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(
          &state_, reinterpret_cast<unsigned char*>(out->data()), &len, &tag,
          reinterpret_cast<const unsigned char*>(in.data()), static_cast<size_t>(n), nullptr,
          0) != 0) {
    out->clear();
    return Status::Corruption("a blob chunk does not authenticate");
  }
  out->resize(len);
  position_ += len;
  if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
    done_ = true;
    unsigned char extra;
    if (ReadFull(fd_, &extra, 1) != 0) return Status::Corruption("a blob has bytes after its end");
  } else if (static_cast<size_t>(n) < kCipherChunk) {
    return Status::Corruption("a blob ends before its final chunk");
  }
  return Status::Ok();
}

}  // namespace outpost::domain
