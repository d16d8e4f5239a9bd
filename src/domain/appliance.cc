#include "domain/appliance.h"

#include <sodium.h>
#include <sys/stat.h>

#include "util/fs.h"

namespace outpost::domain {
namespace {

Status CheckPrivateFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoStatus(path, errno);
  if ((st.st_mode & 077) != 0) {
    return Status::FailedPrecondition(path + " is readable by other users; run chmod 600 " +
                                      path);
  }
  return Status::Ok();
}

}  // namespace

Status CreateKeys(const DataLayout& layout) {
  for (const std::string& p : {layout.signing_key(), layout.signing_pub(), layout.master_key()}) {
    if (PathExists(p)) return Status::AlreadyExists(p + " already exists; keys are never replaced");
  }
  OUTPOST_RETURN_IF_ERROR(MakeDirs(layout.keys_dir(), 0700, true));
  std::string pub(crypto_sign_PUBLICKEYBYTES, '\0');
  SecretString secret(std::string(crypto_sign_SECRETKEYBYTES, '\0'));
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(pub.data()),
                      reinterpret_cast<unsigned char*>(secret.mutable_value()->data()));
  SecretString master(RandomBytes(32));
  OUTPOST_RETURN_IF_ERROR(WriteFileAtomic(layout.master_key(), master.value(), 0600));
  OUTPOST_RETURN_IF_ERROR(WriteFileAtomic(layout.signing_key(), secret.value(), 0600));
  return WriteFileAtomic(layout.signing_pub(), pub, 0644);
}

Result<ApplianceKeys> LoadKeys(const DataLayout& layout) {
  ApplianceKeys keys;
  OUTPOST_RETURN_IF_ERROR(CheckPrivateFile(layout.signing_key()));
  OUTPOST_RETURN_IF_ERROR(CheckPrivateFile(layout.master_key()));
  OUTPOST_ASSIGN_OR_RETURN(std::string secret, ReadFile(layout.signing_key()));
  keys.signing_secret = SecretString(std::move(secret));
  OUTPOST_ASSIGN_OR_RETURN(keys.signing_public, ReadFile(layout.signing_pub()));
  OUTPOST_ASSIGN_OR_RETURN(std::string master, ReadFile(layout.master_key()));
  keys.master_key = SecretString(std::move(master));
  if (keys.signing_secret.size() != crypto_sign_SECRETKEYBYTES ||
      keys.signing_public.size() != crypto_sign_PUBLICKEYBYTES) {
    return Status::Corruption("the signing key in " + layout.keys_dir() + " has the wrong size");
  }
  if (keys.master_key.size() != 32) {
    return Status::Corruption(layout.master_key() + " has the wrong size");
  }
  std::string derived(crypto_sign_PUBLICKEYBYTES, '\0');
  crypto_sign_ed25519_sk_to_pk(
      reinterpret_cast<unsigned char*>(derived.data()),
      reinterpret_cast<const unsigned char*>(keys.signing_secret.value().data()));
  if (!ConstantTimeEquals(derived, keys.signing_public)) {
    return Status::Corruption(layout.signing_pub() + " does not belong to " +
                              layout.signing_key());
  }
  return keys;
}

}  // namespace outpost::domain
