// TLS for the HTTPS listener: certificate generation and inspection (for `outpost init` and
// `outpost cert`) and the immutable server-side mbedTLS configuration shared by every
// connection. mbedTLS stays out of this header so that callers do not inherit its macros.
//
// Randomness comes from libsodium (getrandom(2)), never from /dev/urandom: the binary must run
// in an empty chroot with no /dev.
#ifndef OUTPOST_NET_TLS_H_
#define OUTPOST_NET_TLS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

struct mbedtls_ssl_config;  // mbedtls/ssl.h

namespace outpost::net {

// A private key and its certificate, both PEM. The key is zeroed when the struct is destroyed;
// copies made by the caller are the caller's to protect. (The user-declared destructor turns
// moves into copies; each copy is zeroed in turn, which is the point.)
struct KeyAndCert {
  std::string key_pem;   // SEC1 "EC PRIVATE KEY"
  std::string cert_pem;  // one certificate
  ~KeyAndCert();
};

// Generates a self-signed CA: ECDSA P-256 key, SHA-256 signature, random 128-bit serial,
// CA:true with path length 0, keyCertSign|cRLSign, valid from now-1h for `valid_days` days.
// `common_name` must be 1..64 printable characters without '\'.
// Returns InvalidArgument on bad input, Internal when mbedTLS fails. Thread-safe.
Result<KeyAndCert> GenerateCa(std::string_view common_name, int valid_days);

// Issues a server certificate signed by `ca`: a fresh ECDSA P-256 key, CA:false,
// digitalSignature, extended key usage serverAuth, SubjectAltName with every entry of
// `dns_names` (letters, digits, '-', '.', a leading "*." allowed) and `ip_addresses` (IPv4 or
// IPv6 literals). At least one name or address is required: browsers ignore the CN.
// Returns InvalidArgument on bad input or an unusable CA, Internal when mbedTLS fails.
// Thread-safe.
Result<KeyAndCert> IssueServerCert(const KeyAndCert& ca, std::string_view common_name,
                                   const std::vector<std::string>& dns_names,
                                   const std::vector<std::string>& ip_addresses, int valid_days);

// What a certificate says about itself.
struct CertInfo {
  std::string subject;  // as mbedTLS prints it: "CN=Outpost CA", "CN=Site A\, Hall 2"
  std::string issuer;
  int64_t not_before = 0;  // unix seconds, UTC
  int64_t not_after = 0;
  std::vector<std::string> dns_names;     // SAN dNSName entries, in certificate order
  std::vector<std::string> ip_addresses;  // SAN iPAddress entries, printed by inet_ntop
  bool is_ca = false;                     // basic constraints CA:true
};

// Describes the first certificate of `pem` (PEM or DER). Returns InvalidArgument when it does
// not parse. Thread-safe.
Result<CertInfo> InspectCertificate(std::string_view pem);

// Checks that `key_pem` is the private key of the first certificate of `cert_chain_pem` and
// that this certificate has not expired at `now_unix` (the overload without it uses the system
// clock). Returns InvalidArgument with a message naming the problem: unparsable certificate,
// unparsable (or encrypted) key, key does not match; FailedPrecondition when expired.
// Thread-safe.
Status CheckKeyMatchesCert(std::string_view cert_chain_pem, std::string_view key_pem);
Status CheckKeyMatchesCert(std::string_view cert_chain_pem, std::string_view key_pem,
                           int64_t now_unix);

// Client certificates (smart-card login, docs/security.md "Smart-card login (CAC/PIV)").
// kOff: none asked for (the default, and exactly the handshake of before). kOptional: the
// server asks, a client without one still connects, and a certificate that fails verification
// still completes the handshake (the login route refuses it and says why). kRequired: a
// client without a valid certificate fails the handshake.
enum class ClientAuthMode { kOff, kOptional, kRequired };

// Where the trust for client certificates comes from. Only files: no OCSP, no AIA fetching.
struct ClientAuthOptions {
  ClientAuthMode mode = ClientAuthMode::kOff;
  std::string ca_file;                 // PEM bundle of trusted CAs (roots and intermediates)
  std::vector<std::string> crl_files;  // each one or more PEM CRLs, or one DER CRL
  // A CRL past its nextUpdate: false refuses every certificate of that CA (BADCRL_EXPIRED
  // stays set); true accepts them and the login is audited with crl_stale.
  bool accept_stale_crl = false;
};

// The parsed trust for client certificates: CA bundle and CRLs. Immutable after Load; safe to
// share between threads (Load warms the CA keys' EC tables, see tls.cc).
class ClientTrust {
 public:
  // Reads and parses the files of `options` (mode must not be kOff). InvalidArgument naming
  // the file for: a missing or unreadable file, a bundle with no certificate or one that does
  // not parse, a certificate in the bundle that is not a CA, a CRL that does not parse or is
  // not signed by a CA of the bundle. Problems that do not stop the server (a CRL past its
  // nextUpdate, a CA no CRL covers) are appended to `warnings` when it is not null.
  // `now_unix` decides staleness. Thread-safe.
  static Result<std::shared_ptr<const ClientTrust>> Load(const ClientAuthOptions& options,
                                                         int64_t now_unix,
                                                         std::vector<std::string>* warnings);
  ~ClientTrust();
  ClientTrust(const ClientTrust&) = delete;
  ClientTrust& operator=(const ClientTrust&) = delete;

  const ClientAuthOptions& options() const { return options_; }
  size_t ca_count() const { return ca_count_; }
  size_t crl_count() const { return crl_count_; }

 private:
  friend class TlsContext;
  struct State;
  ClientTrust();

  ClientAuthOptions options_;
  std::unique_ptr<State> state_;  // never null after Load succeeds
  size_t ca_count_ = 0;
  size_t crl_count_ = 0;
};

// The server side of TLS: a parsed certificate chain and key, a DRBG seeded from libsodium and
// an mbedtls_ssl_config limited to TLS 1.2 with ECDHE AEAD suites (CHACHA20-POLY1305 first,
// then AES-GCM; server order wins) over x25519, secp256r1 and secp384r1. No session tickets,
// no renegotiation. Client certificates only when created with a ClientTrust.
//
// Immutable after Create and safe to share between threads: any number of connections may
// run handshakes against one context at the same time (the DRBG and RSA keys lock internally;
// the EC signing table is computed once in Create, see tls.cc). Neither copyable nor movable:
// mbedTLS keeps pointers into it. Keep it alive (shared_ptr) as long as any session set up
// from config() lives.
class TlsContext {
 public:
  // Parses `cert_chain_pem` (leaf first, then intermediates; PEM) and `key_pem` (PEM or DER,
  // unencrypted EC or RSA). Returns InvalidArgument when either does not parse or the key
  // does not match the leaf, Internal when mbedTLS or libsodium fails to initialise. An
  // expired certificate is accepted, so that a server with a stale certificate still starts
  // and the operator can replace it; check expiry with CheckKeyMatchesCert.
  // With `client_trust` (not null), the server asks for client certificates as its mode says
  // and verifies them against its CAs and CRLs; the context keeps it alive.
  static Result<std::shared_ptr<const TlsContext>> Create(
      std::string_view cert_chain_pem, std::string_view key_pem,
      std::shared_ptr<const ClientTrust> client_trust = nullptr);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // For mbedtls_ssl_setup. Owned by this context; valid as long as it lives.
  const mbedtls_ssl_config* config() const;

  // The leaf certificate's subject, for logs.
  const std::string& subject() const { return subject_; }

  // kOff unless created with a ClientTrust.
  ClientAuthMode client_auth() const { return client_auth_; }
  // Whether a stale CRL is accepted (ClientAuthOptions::accept_stale_crl); false when off.
  bool accept_stale_crl() const { return accept_stale_crl_; }

 private:
  struct State;
  TlsContext();

  std::unique_ptr<State> state_;  // never null after Create succeeds
  std::string subject_;
  ClientAuthMode client_auth_ = ClientAuthMode::kOff;
  bool accept_stale_crl_ = false;
};

}  // namespace outpost::net

#endif  // OUTPOST_NET_TLS_H_
