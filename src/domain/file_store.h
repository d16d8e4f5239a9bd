// The blob store under <data>/blobs: content-addressed, encrypted files. A blob's name is the
// keyed BLAKE2b-256 of its plaintext (keyed with a key derived from the master key, so a name
// does not tell which public file it holds); its bytes are the plaintext encrypted with the
// blob's own random key by libsodium secretstream (XChaCha20-Poly1305) in 64 KiB chunks. The
// blob key is only ever stored wrapped by the master key (in the database). No user string
// ever becomes part of a path: paths are built from hex names only.
//
// Layout: <root>/<2 hex>/<64 hex> and <root>/tmp/<random hex> for uploads in progress.
// Blob file format: "OPB1" | secretstream header (24) | chunks (64 KiB + 17 bytes; last shorter,
// tagged FINAL; an empty file is one empty FINAL chunk).
#ifndef OUTPOST_DOMAIN_FILE_STORE_H_
#define OUTPOST_DOMAIN_FILE_STORE_H_

#include <sodium.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/crypto.h"
#include "util/status.h"

namespace outpost::domain {

inline constexpr size_t kBlobChunkBytes = 64 * 1024;

// Keys derived from the master key for the blob store. Zeroed when destroyed.
struct BlobKeys {
  SecretString name_key;  // keys the BLAKE2b that names blobs
  SecretString wrap_key;  // crypto_secretbox key that wraps each blob's own key
  static BlobKeys Derive(std::string_view master_key);
};

// Wraps (nonce | secretbox) and unwraps a 32-byte blob key. Unwrap: Corruption when it does not
// authenticate.
std::string WrapBlobKey(const BlobKeys& keys, std::string_view blob_key);
Result<SecretString> UnwrapBlobKey(const BlobKeys& keys, std::string_view wrapped);

// Writes one blob: bytes go through Append in any pieces; nothing is kept whole in memory.
// The temp file is removed when the writer dies without Finish + Commit. Not thread-safe.
class BlobWriter {
 public:
  // Creates the temp file in <root>/tmp. IoError (InsufficientStorage for a full disk).
  static Result<std::unique_ptr<BlobWriter>> Create(const std::string& root, const BlobKeys* keys);
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // InsufficientStorage when the disk is full (as Finish and Commit).
  Status Append(std::string_view bytes);
  // Encrypts the last chunk and fsyncs. After it, name(), size() and wrapped_key() are set.
  Status Finish();
  // Moves the finished temp file to its blob path (fsync of the folder; rename replaces a blob
  // already there, which holds the same plaintext). Idempotent: a second call does nothing.
  Status Commit();
  // Removes the temp file (idempotent).
  void Discard();

  const std::string& name() const { return name_; }  // 64 hex, after Finish
  uint64_t size() const { return size_; }
  const std::string& wrapped_key() const { return wrapped_; }
  std::string_view head() const { return head_; }  // the first plaintext bytes (for sniffing)

 private:
  BlobWriter() = default;
  Status WriteChunk(bool final);
  Status WriteAll(const unsigned char* p, size_t n);

  std::string root_;
  const BlobKeys* keys_ = nullptr;
  std::string tmp_path_;
  int fd_ = -1;
  SecretString key_;
  crypto_secretstream_xchacha20poly1305_state state_;
  crypto_generichash_state hash_;
  std::string pending_;  // plaintext not yet encrypted (< one chunk)
  std::string head_;     // up to 4 KiB of the plaintext's start
  uint64_t size_ = 0;
  std::string name_;
  std::string wrapped_;
  bool committed_ = false;  // the temp file became the blob
};

// Streams one blob's plaintext. Not thread-safe; holds the open file (so the blob may be
// unlinked while it is read).
class BlobReader {
 public:
  // NotFound when the blob file is missing; Corruption for a bad header or key.
  static Result<std::unique_ptr<BlobReader>> Open(const std::string& root, const BlobKeys& keys,
                                                  std::string_view name,
                                                  std::string_view wrapped_key);
  ~BlobReader();
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;

  // The next decrypted chunk into *out (empty at the end). Corruption when a chunk does not
  // authenticate or the stream ends before its FINAL chunk.
  Status Next(std::string* out);
  bool done() const { return done_; }
  // Back to the first byte.
  Status Rewind();
  uint64_t position() const { return position_; }  // plaintext bytes returned so far

 private:
  BlobReader() = default;
  int fd_ = -1;
  SecretString key_;
  crypto_secretstream_xchacha20poly1305_state state_;
  bool done_ = false;
  uint64_t position_ = 0;
};

// <root>/<2 hex>/<64 hex>; "" when `name` is not 64 lower-case hex characters.
std::string BlobPath(const std::string& root, std::string_view name);

// Keyed BLAKE2b-256 (hex) of a whole byte string: the blob name it would get.
std::string BlobNameOf(const BlobKeys& keys, std::string_view plaintext);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_FILE_STORE_H_
