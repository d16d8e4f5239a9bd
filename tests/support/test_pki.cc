#include "support/test_pki.h"

#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <sodium.h>

#include <ctime>

#include "net/mbed.h"

namespace outpost::testing {
namespace {

using Pk = net::Mbed<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free>;
using Crt = net::Mbed<mbedtls_x509_crt, mbedtls_x509_crt_init, mbedtls_x509_crt_free>;
using Writer =
    net::Mbed<mbedtls_x509write_cert, mbedtls_x509write_crt_init, mbedtls_x509write_crt_free>;
using Mpi = net::Mbed<mbedtls_mpi, mbedtls_mpi_init, mbedtls_mpi_free>;

// 1.3.6.1.4.1.311.20.2.3, Microsoft's user principal name.
constexpr char kUpnOid[] = "\x2b\x06\x01\x04\x01\x82\x37\x14\x02\x03";
// 1.2.840.10045.4.3.2, ecdsa-with-SHA256.
constexpr char kEcdsaSha256Oid[] = "\x2a\x86\x48\xce\x3d\x04\x03\x02";

int SodiumRandom(void* /*unused*/, unsigned char* out, size_t len) {
  randombytes_buf(out, len);
  return 0;
}

Status Check(int ret, const char* what) {
  if (ret >= 0) return Status::Ok();
  char text[160];
  mbedtls_strerror(ret, text, sizeof(text));
  return Status::Internal(std::string("test PKI: ") + what + ": " + text);
}

std::string Utc(int64_t unix_seconds, const char* format) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), format, &tm);
  return buf;
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

Status NewKey(mbedtls_pk_context* pk) {
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), "pk setup"));
  return Check(
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), SodiumRandom, nullptr),
      "key generation");
}

Result<std::string> KeyPem(mbedtls_pk_context* pk) {
  std::vector<unsigned char> buf(2048);
  OUTPOST_RETURN_IF_ERROR(Check(mbedtls_pk_write_key_pem(pk, buf.data(), buf.size()), "key pem"));
  return std::string(reinterpret_cast<const char*>(buf.data()));
}

Status ParseKey(const std::string& pem, mbedtls_pk_context* pk) {
  return Check(mbedtls_pk_parse_key(pk, reinterpret_cast<const unsigned char*>(pem.c_str()),
                                    pem.size() + 1, nullptr, 0),
               "CA key");
}

// Writes the content of a SEQUENCE backwards: the caller has written its members.
int WrapSequence(unsigned char** p, unsigned char* start, size_t len) {
  int ret = 0;
  size_t added = 0;
  MBEDTLS_ASN1_CHK_ADD(added, mbedtls_asn1_write_len(p, start, len));
  MBEDTLS_ASN1_CHK_ADD(
      added, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
  return static_cast<int>(added);
}

// GeneralNames with the UPN otherNames first, then the rfc822Names, written backwards.
int WriteSan(unsigned char** p, unsigned char* start, const UserCertSpec& spec) {
  int ret = 0;
  size_t len = 0;
  for (auto it = spec.emails.rbegin(); it != spec.emails.rend(); ++it) {
    size_t n = 0;
    MBEDTLS_ASN1_CHK_ADD(
        n, mbedtls_asn1_write_raw_buffer(
               p, start, reinterpret_cast<const unsigned char*>(it->data()), it->size()));
    MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_len(p, start, n));
    MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 1));
    len += n;
  }
  for (auto it = spec.upns.rbegin(); it != spec.upns.rend(); ++it) {
    size_t value = 0;
    MBEDTLS_ASN1_CHK_ADD(value, mbedtls_asn1_write_utf8_string(p, start, it->data(), it->size()));
    MBEDTLS_ASN1_CHK_ADD(value, mbedtls_asn1_write_len(p, start, value));
    MBEDTLS_ASN1_CHK_ADD(
        value, mbedtls_asn1_write_tag(
                   p, start, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0));
    size_t n = value;
    MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_oid(p, start, kUpnOid, sizeof(kUpnOid) - 1));
    MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_len(p, start, n));
    MBEDTLS_ASN1_CHK_ADD(
        n, mbedtls_asn1_write_tag(p, start,
                                  MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0));
    len += n;
  }
  MBEDTLS_ASN1_CHK_ADD(len, WrapSequence(p, start, len));
  return static_cast<int>(len);
}

int WriteEku(unsigned char** p, unsigned char* start, bool client_auth) {
  int ret = 0;
  size_t len = 0;
  if (client_auth) {
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_CLIENT_AUTH,
                                                     MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)));
  } else {
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_SERVER_AUTH,
                                                     MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
  }
  MBEDTLS_ASN1_CHK_ADD(len, WrapSequence(p, start, len));
  return static_cast<int>(len);
}

// Sets a random positive 128-bit serial; returns its content bytes as written.
Result<std::string> SetSerial(mbedtls_x509write_cert* w) {
  unsigned char bytes[16];
  randombytes_buf(bytes, sizeof(bytes));
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
  Mpi serial;
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_mpi_read_binary(serial.get(), bytes, sizeof(bytes)), "serial"));
  OUTPOST_RETURN_IF_ERROR(Check(mbedtls_x509write_crt_set_serial(w, serial.get()), "serial"));
  return std::string(reinterpret_cast<const char*>(bytes), sizeof(bytes));
}

Result<std::string> Sign(mbedtls_x509write_cert* w) {
  std::vector<unsigned char> pem(8192);
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_pem(w, pem.data(), pem.size(), SodiumRandom, nullptr), "sign"));
  return std::string(reinterpret_cast<const char*>(pem.data()));
}

}  // namespace

Result<TestCa> MakeTestCa(std::string_view common_name) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  TestCa ca;
  ca.subject = "CN=" + std::string(common_name) + ", O=Outpost Test";
  Pk key;
  OUTPOST_RETURN_IF_ERROR(NewKey(key.get()));
  Writer writer;
  mbedtls_x509write_cert* w = writer.get();
  mbedtls_x509write_crt_set_version(w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(w, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(w, key.get());
  mbedtls_x509write_crt_set_issuer_key(w, key.get());
  OUTPOST_RETURN_IF_ERROR(SetSerial(w).status());
  const std::string from = Utc(Now() - 3600, "%Y%m%d%H%M%S");
  const std::string to = Utc(Now() + 3650 * 86400, "%Y%m%d%H%M%S");
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_validity(w, from.c_str(), to.c_str()), "validity"));
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_subject_name(w, ca.subject.c_str()), "subject"));
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_issuer_name(w, ca.subject.c_str()), "issuer"));
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_basic_constraints(w, 1, 0), "basic constraints"));
  OUTPOST_RETURN_IF_ERROR(Check(mbedtls_x509write_crt_set_subject_key_identifier(w), "ski"));
  OUTPOST_RETURN_IF_ERROR(Check(mbedtls_x509write_crt_set_key_usage(
                                    w, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN),
                                "key usage"));
  OUTPOST_ASSIGN_OR_RETURN(ca.cert_pem, Sign(w));
  OUTPOST_ASSIGN_OR_RETURN(ca.key_pem, KeyPem(key.get()));
  return ca;
}

Result<TestCert> IssueUserCert(const TestCa& ca, const UserCertSpec& spec) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  Pk ca_key;
  OUTPOST_RETURN_IF_ERROR(ParseKey(ca.key_pem, ca_key.get()));
  Pk key;
  OUTPOST_RETURN_IF_ERROR(NewKey(key.get()));
  Writer writer;
  mbedtls_x509write_cert* w = writer.get();
  mbedtls_x509write_crt_set_version(w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(w, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(w, key.get());
  mbedtls_x509write_crt_set_issuer_key(w, ca_key.get());
  TestCert out;
  OUTPOST_ASSIGN_OR_RETURN(out.serial, SetSerial(w));
  const int64_t now = Now();
  const std::string from = Utc(spec.not_before != 0 ? spec.not_before : now - 3600, "%Y%m%d%H%M%S");
  const std::string to =
      Utc(spec.not_after != 0 ? spec.not_after : now + 365 * 86400, "%Y%m%d%H%M%S");
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_validity(w, from.c_str(), to.c_str()), "validity"));
  const std::string subject = "CN=" + spec.common_name + ", O=Outpost Test";
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_subject_name(w, subject.c_str()), "subject"));
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_issuer_name(w, ca.subject.c_str()), "issuer"));
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_basic_constraints(w, 0, -1), "basic constraints"));
  OUTPOST_RETURN_IF_ERROR(Check(
      mbedtls_x509write_crt_set_key_usage(w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE), "key usage"));
  if (!spec.upns.empty() || !spec.emails.empty()) {
    std::vector<unsigned char> der(4096);
    unsigned char* p = der.data() + der.size();
    int len = WriteSan(&p, der.data(), spec);
    OUTPOST_RETURN_IF_ERROR(Check(len, "subjectAltName"));
    OUTPOST_RETURN_IF_ERROR(
        Check(mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                                  p, static_cast<size_t>(len)),
              "subjectAltName"));
  }
  unsigned char eku[32];
  unsigned char* p = eku + sizeof(eku);
  int len = WriteEku(&p, eku, spec.client_auth_usage);
  OUTPOST_RETURN_IF_ERROR(Check(len, "extKeyUsage"));
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                                MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                                p, static_cast<size_t>(len)),
            "extKeyUsage"));
  OUTPOST_ASSIGN_OR_RETURN(out.cert_pem, Sign(w));
  OUTPOST_ASSIGN_OR_RETURN(out.key_pem, KeyPem(key.get()));
  return out;
}

Result<std::string> MakeCrl(const TestCa& ca, const std::vector<std::string>& revoked_serials,
                            int64_t this_update, int64_t next_update, bool pem) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  Crt ca_crt;
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_x509_crt_parse(ca_crt.get(),
                                   reinterpret_cast<const unsigned char*>(ca.cert_pem.c_str()),
                                   ca.cert_pem.size() + 1),
            "CA certificate"));
  Pk ca_key;
  OUTPOST_RETURN_IF_ERROR(ParseKey(ca.key_pem, ca_key.get()));
  const mbedtls_x509_buf& issuer = ca_crt.get()->subject_raw;  // the whole Name, DER

  // TBSCertList, written backwards.
  std::vector<unsigned char> buf(8192 + 64 * revoked_serials.size());
  unsigned char* const start = buf.data();
  unsigned char* p = buf.data() + buf.size();
  int ret = 0;
  size_t tbs_len = 0;
  auto write_time = [&](int64_t t) -> int {
    const std::string text = Utc(t, "%y%m%d%H%M%SZ");
    return mbedtls_asn1_write_tagged_string(&p, start, MBEDTLS_ASN1_UTC_TIME, text.data(),
                                            text.size());
  };
  auto body = [&]() -> int {
    size_t len = 0;
    if (!revoked_serials.empty()) {
      size_t list = 0;
      for (auto it = revoked_serials.rbegin(); it != revoked_serials.rend(); ++it) {
        size_t entry = 0;
        MBEDTLS_ASN1_CHK_ADD(entry, write_time(this_update));
        size_t serial = 0;
        MBEDTLS_ASN1_CHK_ADD(
            serial, mbedtls_asn1_write_raw_buffer(
                        &p, start, reinterpret_cast<const unsigned char*>(it->data()), it->size()));
        MBEDTLS_ASN1_CHK_ADD(serial, mbedtls_asn1_write_len(&p, start, serial));
        MBEDTLS_ASN1_CHK_ADD(serial, mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_INTEGER));
        entry += serial;
        MBEDTLS_ASN1_CHK_ADD(entry, WrapSequence(&p, start, entry));
        list += entry;
      }
      MBEDTLS_ASN1_CHK_ADD(list, WrapSequence(&p, start, list));
      len += list;
    }
    MBEDTLS_ASN1_CHK_ADD(len, write_time(next_update));
    MBEDTLS_ASN1_CHK_ADD(len, write_time(this_update));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, start, issuer.p, issuer.len));
    size_t alg = 0;
    MBEDTLS_ASN1_CHK_ADD(
        alg, mbedtls_asn1_write_oid(&p, start, kEcdsaSha256Oid, sizeof(kEcdsaSha256Oid) - 1));
    MBEDTLS_ASN1_CHK_ADD(alg, WrapSequence(&p, start, alg));
    len += alg;
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_int(&p, start, 1));  // v2
    MBEDTLS_ASN1_CHK_ADD(len, WrapSequence(&p, start, len));
    return static_cast<int>(len);
  };
  ret = body();
  OUTPOST_RETURN_IF_ERROR(Check(ret, "TBSCertList"));
  tbs_len = static_cast<size_t>(ret);
  const std::string tbs(reinterpret_cast<const char*>(p), tbs_len);

  unsigned char hash[32];
  OUTPOST_RETURN_IF_ERROR(Check(
      mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(tbs.data()), tbs.size(), hash, 0),
      "hash"));
  unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  size_t sig_len = 0;
  OUTPOST_RETURN_IF_ERROR(Check(mbedtls_pk_sign(ca_key.get(), MBEDTLS_MD_SHA256, hash, 0, sig,
                                                &sig_len, SodiumRandom, nullptr),
                                "CRL signature"));

  // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
  std::vector<unsigned char> out(tbs.size() + sig_len + 256);
  unsigned char* q = out.data() + out.size();
  auto whole = [&]() -> int {
    size_t len = 0;
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_bitstring(&q, out.data(), sig, sig_len * 8));
    size_t alg = 0;
    MBEDTLS_ASN1_CHK_ADD(
        alg, mbedtls_asn1_write_oid(&q, out.data(), kEcdsaSha256Oid, sizeof(kEcdsaSha256Oid) - 1));
    MBEDTLS_ASN1_CHK_ADD(alg, WrapSequence(&q, out.data(), alg));
    len += alg;
    MBEDTLS_ASN1_CHK_ADD(
        len, mbedtls_asn1_write_raw_buffer(
                 &q, out.data(), reinterpret_cast<const unsigned char*>(tbs.data()), tbs.size()));
    MBEDTLS_ASN1_CHK_ADD(len, WrapSequence(&q, out.data(), len));
    return static_cast<int>(len);
  };
  ret = whole();
  OUTPOST_RETURN_IF_ERROR(Check(ret, "CertificateList"));
  const std::string der(reinterpret_cast<const char*>(q), static_cast<size_t>(ret));
  if (!pem) return der;
  std::vector<unsigned char> text(der.size() * 2 + 128);
  size_t olen = 0;
  OUTPOST_RETURN_IF_ERROR(
      Check(mbedtls_pem_write_buffer("-----BEGIN X509 CRL-----\n", "-----END X509 CRL-----\n",
                                     reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                                     text.data(), text.size(), &olen),
            "CRL PEM"));
  return std::string(reinterpret_cast<const char*>(text.data()));
}

}  // namespace outpost::testing
