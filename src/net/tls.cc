#include "net/tls.h"

#include <arpa/inet.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <sodium.h>

#include <cstdio>
#include <cstring>
#include <ctime>

#include "net/mbed.h"
#include "util/fs.h"

namespace outpost::net {
namespace {

using Pk = Mbed<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free>;
using Crt = Mbed<mbedtls_x509_crt, mbedtls_x509_crt_init, mbedtls_x509_crt_free>;
using CrtWriter =
    Mbed<mbedtls_x509write_cert, mbedtls_x509write_crt_init, mbedtls_x509write_crt_free>;
using Mpi = Mbed<mbedtls_mpi, mbedtls_mpi_init, mbedtls_mpi_free>;
using Drbg = Mbed<mbedtls_ctr_drbg_context, mbedtls_ctr_drbg_init, mbedtls_ctr_drbg_free>;
using SslConfig = Mbed<mbedtls_ssl_config, mbedtls_ssl_config_init, mbedtls_ssl_config_free>;
using Crl = Mbed<mbedtls_x509_crl, mbedtls_x509_crl_init, mbedtls_x509_crl_free>;

// A heap buffer for key material, zeroed before it is released.
class SecretBuffer {
 public:
  explicit SecretBuffer(size_t size) : bytes_(size, 0) {}
  ~SecretBuffer() { sodium_memzero(bytes_.data(), bytes_.size()); }
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  unsigned char* data() { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<unsigned char> bytes_;
};

// Server order wins (mbedTLS's default). CHACHA20-POLY1305 first: it is fast in plain software
// and mbedTLS's GCM is not; AES-GCM stays for clients that lack ChaCha. All ECDHE (forward
// secrecy) and AEAD (no CBC, so no Lucky13-style padding oracles).
constexpr int kCipherSuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0,
};
constexpr mbedtls_ecp_group_id kCurves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                            MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};
constexpr int kSigHashes[] = {MBEDTLS_MD_SHA512, MBEDTLS_MD_SHA384, MBEDTLS_MD_SHA256,
                              MBEDTLS_MD_NONE};
constexpr int kMaxValidDays = 36500;
constexpr int64_t kBackdateSeconds = 3600;  // tolerate clients whose clock is a little behind

std::string MbedError(int ret) {
  char text[160];
  mbedtls_strerror(ret, text, sizeof(text));
  char code[16];
  std::snprintf(code, sizeof(code), " (-0x%04x)", static_cast<unsigned>(-ret));
  return std::string(text) + code;
}

// Internal error for a failed certificate-writing step; OK when ret is 0.
Status Check(int ret, const char* what) {
  if (ret == 0) return Status::Ok();
  return Status::Internal(std::string("certificate ") + what + ": " + MbedError(ret));
}

// mbedTLS entropy callback. libsodium reads getrandom(2), so this works without /dev.
int SodiumEntropy(void* /*unused*/, unsigned char* out, size_t len) {
  randombytes_buf(out, len);
  return 0;
}

Status SeedDrbg(mbedtls_ctr_drbg_context* drbg) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  static constexpr unsigned char kPersonalization[] = "outpost tls";
  int ret = mbedtls_ctr_drbg_seed(drbg, SodiumEntropy, nullptr, kPersonalization,
                                  sizeof(kPersonalization) - 1);
  if (ret != 0) return Status::Internal("seeding the TLS random generator: " + MbedError(ret));
  return Status::Ok();
}

bool LooksLikePem(std::string_view text) { return text.find("-----BEGIN ") != text.npos; }

// Parses every certificate of `text` (PEM or DER). A PEM chain with one bad member is refused
// whole: serving half a chain fails later, in a browser, with a worse message.
Status ParseCerts(std::string_view text, mbedtls_x509_crt* crt) {
  if (text.empty()) return Status::InvalidArgument("certificate is empty");
  int ret;
  if (LooksLikePem(text)) {
    std::string pem(text);  // mbedTLS wants the NUL inside the length for PEM
    ret = mbedtls_x509_crt_parse(crt, reinterpret_cast<const unsigned char*>(pem.c_str()),
                                 pem.size() + 1);
  } else {
    ret = mbedtls_x509_crt_parse_der(crt, reinterpret_cast<const unsigned char*>(text.data()),
                                     text.size());
  }
  if (ret < 0) return Status::InvalidArgument("certificate does not parse: " + MbedError(ret));
  if (ret > 0) {
    return Status::InvalidArgument(std::to_string(ret) +
                                   " certificate(s) of the chain do not parse");
  }
  return Status::Ok();
}

Status ParseKey(std::string_view text, mbedtls_pk_context* pk) {
  if (text.empty()) return Status::InvalidArgument("private key is empty");
  const bool pem = LooksLikePem(text);
  SecretBuffer copy(text.size() + 1);  // NUL-terminated copy, zeroed on return
  std::memcpy(copy.data(), text.data(), text.size());
  int ret = mbedtls_pk_parse_key(pk, copy.data(), pem ? copy.size() : text.size(), nullptr, 0);
  if (ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED) {
    return Status::InvalidArgument("private key is encrypted; give it unencrypted");
  }
  if (ret != 0) return Status::InvalidArgument("private key does not parse: " + MbedError(ret));
  return Status::Ok();
}

// Formats a UTC time with strftime's `format`: "%Y%m%d%H%M%S" is what
// mbedtls_x509write_crt_set_validity takes.
std::string FormatUtc(int64_t unix_seconds, const char* format) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), format, &tm);
  return buf;
}

// mbedTLS 2.28 parses "CN=a\, b" and nothing else escaped; refuse what it cannot carry.
Result<std::string> EscapeDnValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("name contains a backslash or control character");
    }
    if (c == ',') out += '\\';
    out += c;
  }
  return out;
}

Result<std::string> SubjectFromCommonName(std::string_view common_name) {
  if (common_name.empty() || common_name.size() > 64) {
    return Status::InvalidArgument("common name must be 1 to 64 characters");
  }
  OUTPOST_ASSIGN_OR_RETURN(std::string escaped, EscapeDnValue(common_name));
  return "CN=" + escaped;
}

// Rebuilds the string form of a parsed name so that it can be fed back to
// mbedtls_x509write_crt_set_issuer_name (2.28 cannot take a DER name).
Result<std::string> DnStringForWriter(const mbedtls_x509_name* name) {
  std::string out;
  for (; name != nullptr && name->oid.p != nullptr; name = name->next) {
    const char* short_name = nullptr;
    if (mbedtls_oid_get_attr_short_name(&name->oid, &short_name) != 0) {
      return Status::InvalidArgument("CA subject has an attribute mbedTLS cannot write");
    }
    OUTPOST_ASSIGN_OR_RETURN(
        std::string value,
        EscapeDnValue(std::string_view(reinterpret_cast<const char*>(name->val.p), name->val.len)));
    if (!out.empty()) out += ", ";
    out += std::string(short_name) + "=" + value;
  }
  if (out.empty()) return Status::InvalidArgument("CA subject is empty");
  return out;
}

bool ValidDnsName(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

struct SanEntry {
  unsigned char tag;  // context-specific tag number: 2 dNSName, 7 iPAddress
  std::string bytes;
};

// Writes GeneralNames backwards into [start, *p), mbedTLS's ASN.1 writer convention.
// Returns the length written or a negative mbedTLS error (the CHK_ADD macros need int).
int WriteGeneralNames(unsigned char** p, unsigned char* start,
                      const std::vector<SanEntry>& entries) {
  int ret = 0;
  size_t len = 0;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    size_t entry_len = 0;
    MBEDTLS_ASN1_CHK_ADD(
        entry_len,
        mbedtls_asn1_write_raw_buffer(
            p, start, reinterpret_cast<const unsigned char*>(it->bytes.data()), it->bytes.size()));
    MBEDTLS_ASN1_CHK_ADD(entry_len, mbedtls_asn1_write_len(p, start, entry_len));
    MBEDTLS_ASN1_CHK_ADD(entry_len,
                         mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONTEXT_SPECIFIC | it->tag));
    len += entry_len;
  }
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
  MBEDTLS_ASN1_CHK_ADD(
      len, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
  return static_cast<int>(len);
}

// ExtKeyUsageSyntax ::= SEQUENCE OF KeyPurposeId, here just id-kp-serverAuth.
int WriteServerAuthUsage(unsigned char** p, unsigned char* start) {
  int ret = 0;
  size_t len = 0;
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_SERVER_AUTH,
                                                   MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
  MBEDTLS_ASN1_CHK_ADD(
      len, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
  return static_cast<int>(len);
}

Result<std::vector<SanEntry>> SanEntries(const std::vector<std::string>& dns_names,
                                         const std::vector<std::string>& ip_addresses) {
  std::vector<SanEntry> entries;
  for (const auto& name : dns_names) {
    if (!ValidDnsName(name)) return Status::InvalidArgument("invalid DNS name '" + name + "'");
    entries.push_back({2, name});
  }
  for (const auto& ip : ip_addresses) {
    unsigned char raw[16];
    if (inet_pton(AF_INET, ip.c_str(), raw) == 1) {
      entries.push_back({7, std::string(reinterpret_cast<char*>(raw), 4)});
    } else if (inet_pton(AF_INET6, ip.c_str(), raw) == 1) {
      entries.push_back({7, std::string(reinterpret_cast<char*>(raw), 16)});
    } else {
      return Status::InvalidArgument("invalid IP address '" + ip + "'");
    }
  }
  return entries;
}

Status GenerateP256Key(mbedtls_pk_context* pk, mbedtls_ctr_drbg_context* drbg) {
  int ret = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (ret == 0) {
    ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), mbedtls_ctr_drbg_random,
                              drbg);
  }
  if (ret != 0) return Status::Internal("generating a P-256 key: " + MbedError(ret));
  return Status::Ok();
}

Result<std::string> KeyToPem(mbedtls_pk_context* pk) {
  SecretBuffer buf(2048);
  int ret = mbedtls_pk_write_key_pem(pk, buf.data(), buf.size());
  if (ret != 0) return Status::Internal("writing the private key: " + MbedError(ret));
  return std::string(reinterpret_cast<const char*>(buf.data()));
}

struct CertRequest {
  mbedtls_pk_context* subject_key;
  mbedtls_pk_context* issuer_key;
  std::string subject;
  std::string issuer;
  int valid_days;
  bool is_ca;
  std::vector<SanEntry> san;  // server certificates only
};

Result<std::string> WriteCertificate(const CertRequest& req, mbedtls_ctr_drbg_context* drbg) {
  if (req.valid_days < 1 || req.valid_days > kMaxValidDays) {
    return Status::InvalidArgument("validity must be 1 to " + std::to_string(kMaxValidDays) +
                                   " days");
  }
  CrtWriter crt;
  mbedtls_x509write_cert* w = crt.get();
  mbedtls_x509write_crt_set_version(w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(w, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(w, req.subject_key);
  mbedtls_x509write_crt_set_issuer_key(w, req.issuer_key);

  // 16 random bytes, top bit clear (positive INTEGER), next bit set (never shorter or zero).
  unsigned char serial_bytes[16];
  randombytes_buf(serial_bytes, sizeof(serial_bytes));
  serial_bytes[0] = static_cast<unsigned char>((serial_bytes[0] & 0x7f) | 0x40);
  Mpi serial;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const std::string not_before = FormatUtc(now - kBackdateSeconds, "%Y%m%d%H%M%S");
  const std::string not_after = FormatUtc(now + int64_t{req.valid_days} * 86400, "%Y%m%d%H%M%S");

  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_mpi_read_binary(serial.get(), serial_bytes, sizeof(serial_bytes)), "serial"));
  OUTPOST_RETURN_IF_ERROR(Check(mbedtls_x509write_crt_set_serial(w, serial.get()), "serial"));
  OUTPOST_RETURN_IF_ERROR(Check(
      mbedtls_x509write_crt_set_validity(w, not_before.c_str(), not_after.c_str()), "validity"));
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_subject_name(w, req.subject.c_str()), "subject name"));
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_issuer_name(w, req.issuer.c_str()), "issuer name"));
  // Path length 0: our CA signs server certificates only, never another CA.
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_basic_constraints(w, req.is_ca, req.is_ca ? 0 : -1),
            "basic constraints"));
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_subject_key_identifier(w), "subject key identifier"));
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_authority_key_identifier(w), "authority key identifier"));
  const unsigned int key_usage = req.is_ca
                                     ? (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)
                                     : MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  OUTPOST_RETURN_IF_ERROR(Check(mbedtls_x509write_crt_set_key_usage(w, key_usage), "key usage"));

  if (!req.is_ca) {
    size_t cap = 64;
    for (const auto& e : req.san) cap += e.bytes.size() + 8;
    std::vector<unsigned char> der(cap);
    unsigned char* p = der.data() + der.size();
    int len = WriteGeneralNames(&p, der.data(), req.san);
    if (len >= 0) {
      len = mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                                p, static_cast<size_t>(len));
    }
    OUTPOST_RETURN_IF_ERROR(Check(len < 0 ? len : 0, "subjectAltName"));

    unsigned char eku[32];
    p = eku + sizeof(eku);
    len = WriteServerAuthUsage(&p, eku);
    if (len >= 0) {
      len = mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                                MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                                p, static_cast<size_t>(len));
    }
    OUTPOST_RETURN_IF_ERROR(Check(len < 0 ? len : 0, "extKeyUsage"));
  }

  std::vector<unsigned char> pem(4096 + 64 * req.san.size());
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_pem(w, pem.data(), pem.size(), mbedtls_ctr_drbg_random, drbg),
            "signing"));
  return std::string(reinterpret_cast<const char*>(pem.data()));
}

}  // namespace

KeyAndCert::~KeyAndCert() { sodium_memzero(key_pem.data(), key_pem.size()); }

Result<KeyAndCert> GenerateCa(std::string_view common_name, int valid_days) {
  OUTPOST_ASSIGN_OR_RETURN(std::string subject, SubjectFromCommonName(common_name));
  Drbg drbg;
  OUTPOST_RETURN_IF_ERROR(SeedDrbg(drbg.get()));
  Pk key;
  OUTPOST_RETURN_IF_ERROR(GenerateP256Key(key.get(), drbg.get()));
  CertRequest req{key.get(), key.get(), subject, subject, valid_days, true, {}};
  OUTPOST_ASSIGN_OR_RETURN(std::string cert_pem, WriteCertificate(req, drbg.get()));
  OUTPOST_ASSIGN_OR_RETURN(std::string key_pem, KeyToPem(key.get()));
  KeyAndCert out{std::move(key_pem), std::move(cert_pem)};
  return out;
}

Result<KeyAndCert> IssueServerCert(const KeyAndCert& ca, std::string_view common_name,
                                   const std::vector<std::string>& dns_names,
                                   const std::vector<std::string>& ip_addresses, int valid_days) {
  OUTPOST_ASSIGN_OR_RETURN(std::string subject, SubjectFromCommonName(common_name));
  if (dns_names.empty() && ip_addresses.empty()) {
    return Status::InvalidArgument("a server certificate needs at least one DNS name or IP");
  }
  OUTPOST_ASSIGN_OR_RETURN(std::vector<SanEntry> san, SanEntries(dns_names, ip_addresses));

  Crt ca_crt;
  Pk ca_key;
  OUTPOST_RETURN_IF_ERROR(ParseCerts(ca.cert_pem, ca_crt.get()).WithContext("CA"));
  OUTPOST_RETURN_IF_ERROR(ParseKey(ca.key_pem, ca_key.get()).WithContext("CA"));
  if (mbedtls_pk_check_pair(&ca_crt.get()->pk, ca_key.get()) != 0) {
    return Status::InvalidArgument("CA: private key does not match the CA certificate");
  }
  if (!ca_crt.get()->ca_istrue) {
    return Status::InvalidArgument("CA: the certificate is not a CA (basic constraints)");
  }
  OUTPOST_ASSIGN_OR_RETURN(std::string issuer, DnStringForWriter(&ca_crt.get()->subject));

  Drbg drbg;
  OUTPOST_RETURN_IF_ERROR(SeedDrbg(drbg.get()));
  Pk key;
  OUTPOST_RETURN_IF_ERROR(GenerateP256Key(key.get(), drbg.get()));
  CertRequest req{key.get(), ca_key.get(), subject, issuer, valid_days, false, std::move(san)};
  OUTPOST_ASSIGN_OR_RETURN(std::string cert_pem, WriteCertificate(req, drbg.get()));
  OUTPOST_ASSIGN_OR_RETURN(std::string key_pem, KeyToPem(key.get()));
  KeyAndCert out{std::move(key_pem), std::move(cert_pem)};
  return out;
}

Result<CertInfo> InspectCertificate(std::string_view pem) {
  Crt crt;
  OUTPOST_RETURN_IF_ERROR(ParseCerts(pem, crt.get()));
  const mbedtls_x509_crt* c = crt.get();
  CertInfo info;
  info.subject = X509DnString(&c->subject);
  info.issuer = X509DnString(&c->issuer);
  info.not_before = X509TimeToUnix(c->valid_from);
  info.not_after = X509TimeToUnix(c->valid_to);
  info.is_ca = c->ca_istrue != 0;
  for (const mbedtls_x509_sequence* s = &c->subject_alt_names; s != nullptr && s->buf.p != nullptr;
       s = s->next) {
    const auto* bytes = reinterpret_cast<const char*>(s->buf.p);
    if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)) {
      info.dns_names.emplace_back(bytes, s->buf.len);
    } else if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
               (s->buf.len == 4 || s->buf.len == 16)) {
      char text[INET6_ADDRSTRLEN];
      inet_ntop(s->buf.len == 4 ? AF_INET : AF_INET6, s->buf.p, text, sizeof(text));
      info.ip_addresses.emplace_back(text);
    }
  }
  return info;
}

Status CheckKeyMatchesCert(std::string_view cert_chain_pem, std::string_view key_pem) {
  return CheckKeyMatchesCert(cert_chain_pem, key_pem, static_cast<int64_t>(std::time(nullptr)));
}

Status CheckKeyMatchesCert(std::string_view cert_chain_pem, std::string_view key_pem,
                           int64_t now_unix) {
  Crt crt;
  Pk key;
  OUTPOST_RETURN_IF_ERROR(ParseCerts(cert_chain_pem, crt.get()));
  OUTPOST_RETURN_IF_ERROR(ParseKey(key_pem, key.get()));
  const mbedtls_x509_crt* leaf = crt.get();
  if (mbedtls_pk_check_pair(&leaf->pk, key.get()) != 0) {
    return Status::InvalidArgument("private key does not match the certificate '" +
                                   X509DnString(&leaf->subject) + "'");
  }
  const int64_t not_after = X509TimeToUnix(leaf->valid_to);
  if (not_after < now_unix) {
    return Status::FailedPrecondition("certificate '" + X509DnString(&leaf->subject) +
                                      "' expired at " + FormatUtc(not_after, "%Y-%m-%dT%H:%M:%SZ"));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Client certificate trust.

struct ClientTrust::State {
  Crt cas;
  Crl crls;  // version 0 (empty) when no CRL file is configured
};

namespace {

// Parses every CRL of `text` (PEM: one or more; DER: exactly one) into `crl`.
Status ParseCrls(std::string_view text, mbedtls_x509_crl* crl) {
  if (text.empty()) return Status::InvalidArgument("the file is empty");
  int ret;
  if (LooksLikePem(text)) {
    std::string pem(text);  // NUL inside the length, as for certificates
    ret = mbedtls_x509_crl_parse(crl, reinterpret_cast<const unsigned char*>(pem.c_str()),
                                 pem.size() + 1);
  } else {
    ret = mbedtls_x509_crl_parse_der(crl, reinterpret_cast<const unsigned char*>(text.data()),
                                     text.size());
  }
  if (ret != 0) return Status::InvalidArgument("CRL does not parse: " + MbedError(ret));
  return Status::Ok();
}

bool SameName(const mbedtls_x509_buf& a, const mbedtls_x509_buf& b) {
  return a.len == b.len && a.p != nullptr && b.p != nullptr && std::memcmp(a.p, b.p, a.len) == 0;
}

// Whether `crl` carries a valid signature by `ca`'s key.
bool CrlSignedBy(const mbedtls_x509_crl& crl, mbedtls_x509_crt& ca) {
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(crl.sig_md);
  if (md == nullptr) return false;
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  if (mbedtls_md(md, crl.tbs.p, crl.tbs.len, hash) != 0) return false;
  return mbedtls_pk_verify_ext(crl.sig_pk, crl.sig_opts, &ca.pk, crl.sig_md, hash,
                               mbedtls_md_get_size(md), crl.sig.p, crl.sig.len) == 0;
}

// mbedTLS 2.28 builds an EC group's fixed-point table lazily on the first operation with the
// generator, verification included, and stores it without a lock. Concurrent handshakes verify
// client chains against these CA keys, so run one verification per key here, before the trust
// is shared. The signature (r = s = 1) is in range and fails only after the multiplication.
void WarmEcKey(mbedtls_pk_context* pk) {
  if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY && mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECDSA) {
    return;
  }
  unsigned char hash[32];
  std::memset(hash, 0x5a, sizeof(hash));
  static constexpr unsigned char kSig[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
  (void)mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), kSig, sizeof(kSig));
}

}  // namespace

ClientTrust::ClientTrust() : state_(std::make_unique<State>()) {}
ClientTrust::~ClientTrust() = default;

Result<std::shared_ptr<const ClientTrust>> ClientTrust::Load(const ClientAuthOptions& options,
                                                             int64_t now_unix,
                                                             std::vector<std::string>* warnings) {
  if (options.mode == ClientAuthMode::kOff) {
    return Status::InvalidArgument("client certificates are off: there is no trust to load");
  }
  if (options.ca_file.empty()) {
    return Status::InvalidArgument("tls.client_ca_file must name the CA bundle");
  }
  auto warn = [&](std::string text) {
    if (warnings != nullptr) warnings->push_back(std::move(text));
  };
  std::shared_ptr<ClientTrust> trust(new ClientTrust());
  trust->options_ = options;
  State& s = *trust->state_;

  // A file that cannot be read is a configuration problem like one that does not parse.
  auto unreadable = [](const Status& st, const char* what) {
    return Status::InvalidArgument(std::string(what) + " " + st.message());
  };
  Result<std::string> bundle = ReadFile(options.ca_file);
  if (!bundle.ok()) return unreadable(bundle.status(), "client CA bundle");
  if (Status st = ParseCerts(*bundle, s.cas.get()); !st.ok()) {
    return st.WithContext("client CA bundle " + options.ca_file);
  }
  for (mbedtls_x509_crt* c = s.cas.get(); c != nullptr && c->raw.p != nullptr; c = c->next) {
    ++trust->ca_count_;
    if (!c->ca_istrue) {
      return Status::InvalidArgument("client CA bundle " + options.ca_file + ": '" +
                                     X509DnString(&c->subject) +
                                     "' is not a CA certificate (basic constraints)");
    }
    if (X509TimeToUnix(c->valid_to) < now_unix) {
      warn("client CA '" + X509DnString(&c->subject) + "' expired at " +
           FormatUtc(X509TimeToUnix(c->valid_to), "%Y-%m-%dT%H:%M:%SZ") +
           "; certificates it issued are refused");
    }
    WarmEcKey(&c->pk);
  }

  for (const std::string& file : options.crl_files) {
    Result<std::string> text = ReadFile(file);
    if (!text.ok()) return unreadable(text.status(), "CRL");
    Crl one;
    if (Status st = ParseCrls(*text, one.get()); !st.ok()) return st.WithContext("CRL " + file);
    for (mbedtls_x509_crl* crl = one.get(); crl != nullptr && crl->version != 0; crl = crl->next) {
      mbedtls_x509_crt* issuer = nullptr;
      for (mbedtls_x509_crt* c = s.cas.get(); c != nullptr && c->raw.p != nullptr; c = c->next) {
        if (SameName(c->subject_raw, crl->issuer_raw) && CrlSignedBy(*crl, *c)) {
          issuer = c;
          break;
        }
      }
      const std::string crl_issuer = X509DnString(&crl->issuer);
      if (issuer == nullptr) {
        return Status::InvalidArgument("CRL " + file + ": issued by '" + crl_issuer +
                                       "', which is not a CA of " + options.ca_file +
                                       " (or the signature does not verify)");
      }
      ++trust->crl_count_;
      if (crl->next_update.year != 0 && X509TimeToUnix(crl->next_update) < now_unix) {
        warn("CRL " + file + " of '" + crl_issuer + "' is past its nextUpdate (" +
             FormatUtc(X509TimeToUnix(crl->next_update), "%Y-%m-%dT%H:%M:%SZ") + "): " +
             (options.accept_stale_crl
                  ? "its certificates are still accepted (tls.crl_stale = \"accept\")"
                  : "every certificate of that CA is refused until a fresh CRL is installed"));
      }
    }
    if (Status st = ParseCrls(*text, s.crls.get()); !st.ok()) return st.WithContext("CRL " + file);
  }
  for (mbedtls_x509_crt* c = s.cas.get(); c != nullptr && c->raw.p != nullptr; c = c->next) {
    bool covered = false;
    for (const mbedtls_x509_crl* crl = s.crls.get(); crl != nullptr && crl->version != 0;
         crl = crl->next) {
      covered |= SameName(c->subject_raw, crl->issuer_raw);
    }
    if (!covered) {
      warn("no CRL from client CA '" + X509DnString(&c->subject) +
           "': certificates it issued are not checked for revocation");
    }
  }
  return std::shared_ptr<const ClientTrust>(std::move(trust));
}

// ---------------------------------------------------------------------------------------------

struct TlsContext::State {
  // Declaration order matters: conf points at chain, key, drbg and the client trust, so it is
  // destroyed first.
  std::shared_ptr<const ClientTrust> client_trust;
  Crt chain;
  Pk key;
  Drbg drbg;
  SslConfig conf;
};

TlsContext::TlsContext() : state_(std::make_unique<State>()) {}
TlsContext::~TlsContext() = default;

const mbedtls_ssl_config* TlsContext::config() const { return state_->conf.get(); }

Result<std::shared_ptr<const TlsContext>> TlsContext::Create(
    std::string_view cert_chain_pem, std::string_view key_pem,
    std::shared_ptr<const ClientTrust> client_trust) {
  std::shared_ptr<TlsContext> ctx(new TlsContext());
  State& s = *ctx->state_;
  OUTPOST_RETURN_IF_ERROR(ParseCerts(cert_chain_pem, s.chain.get()));
  OUTPOST_RETURN_IF_ERROR(ParseKey(key_pem, s.key.get()));
  ctx->subject_ = X509DnString(&s.chain.get()->subject);
  if (mbedtls_pk_check_pair(&s.chain.get()->pk, s.key.get()) != 0) {
    return Status::InvalidArgument("private key does not match the certificate '" + ctx->subject_ +
                                   "'");
  }
  OUTPOST_RETURN_IF_ERROR(SeedDrbg(s.drbg.get()));

  mbedtls_ssl_config* conf = s.conf.get();
  int ret = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) return Status::Internal("TLS config defaults: " + MbedError(ret));
  mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, s.drbg.get());
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(conf, kCipherSuites);
  mbedtls_ssl_conf_curves(conf, kCurves);
  mbedtls_ssl_conf_sig_hashes(conf, kSigHashes);
  mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  ret = mbedtls_ssl_conf_own_cert(conf, s.chain.get(), s.key.get());
  if (ret != 0) return Status::Internal("TLS own certificate: " + MbedError(ret));
  if (client_trust != nullptr && client_trust->options().mode != ClientAuthMode::kOff) {
    // mbedTLS takes non-const pointers but only reads the chain and the CRLs while verifying
    // (the EC tables it would write were built by ClientTrust::Load).
    ClientTrust::State& trust = *client_trust->state_;
    ctx->client_auth_ = client_trust->options().mode;
    ctx->accept_stale_crl_ = client_trust->options().accept_stale_crl;
    mbedtls_ssl_conf_authmode(conf, ctx->client_auth_ == ClientAuthMode::kRequired
                                        ? MBEDTLS_SSL_VERIFY_REQUIRED
                                        : MBEDTLS_SSL_VERIFY_OPTIONAL);
    mbedtls_ssl_conf_ca_chain(conf, trust.cas.get(),
                              client_trust->crl_count() > 0 ? trust.crls.get() : nullptr);
    s.client_trust = std::move(client_trust);
  }

  // mbedTLS 2.28 computes the fixed-point table of an EC key's group lazily, on the first
  // signature, and stores it in the key without a lock. Sign once here, before the context is
  // shared, so that concurrent handshakes only ever read that table.
  unsigned char hash[32] = {0};
  unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  size_t sig_len = 0;
  ret = mbedtls_pk_sign(s.key.get(), MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, &sig_len,
                        mbedtls_ctr_drbg_random, s.drbg.get());
  if (ret != 0) return Status::InvalidArgument("the private key cannot sign: " + MbedError(ret));
  return std::shared_ptr<const TlsContext>(std::move(ctx));
}

}  // namespace outpost::net
