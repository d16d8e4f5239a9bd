// The data folder of one appliance and the keys in it:
//   <data>/outpost.db          the database
//   <data>/keys/signing.key    ed25519 secret key (audit checkpoints, backup manifests), 0600
//   <data>/keys/signing.pub    its public key
//   <data>/keys/master.key     256-bit master key that wraps per-file keys, 0600
//   <data>/tls/ca.pem, ca.key  the site CA made by `outpost init` (key 0600)
//   <data>/tls/server.pem, server.key  the HTTPS certificate chain and key (key 0600)
// Folders are 0700. Keys are written atomically; a half-written key never exists.
#ifndef OUTPOST_DOMAIN_APPLIANCE_H_
#define OUTPOST_DOMAIN_APPLIANCE_H_

#include <string>

#include "util/crypto.h"
#include "util/status.h"

namespace outpost::domain {

struct DataLayout {
  std::string root;

  std::string database() const { return root + "/outpost.db"; }
  std::string keys_dir() const { return root + "/keys"; }
  std::string tls_dir() const { return root + "/tls"; }
  std::string signing_key() const { return keys_dir() + "/signing.key"; }
  std::string signing_pub() const { return keys_dir() + "/signing.pub"; }
  std::string master_key() const { return keys_dir() + "/master.key"; }
  std::string ca_cert() const { return tls_dir() + "/ca.pem"; }
  std::string ca_key() const { return tls_dir() + "/ca.key"; }
  std::string server_cert() const { return tls_dir() + "/server.pem"; }
  std::string server_key() const { return tls_dir() + "/server.key"; }
};

struct ApplianceKeys {
  SecretString signing_secret;  // crypto_sign_SECRETKEYBYTES (64) raw bytes
  std::string signing_public;   // crypto_sign_PUBLICKEYBYTES (32) raw bytes
  SecretString master_key;      // 32 raw bytes
};

// Creates the signing key pair and the master key. AlreadyExists when any of them is there:
// keys are never overwritten (files encrypted under them would be lost).
Status CreateKeys(const DataLayout& layout);

// Loads and checks the keys: sizes, that the public key matches the secret one, and that the
// secret files are not readable by group or others (FailedPrecondition naming the file).
Result<ApplianceKeys> LoadKeys(const DataLayout& layout);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_APPLIANCE_H_
