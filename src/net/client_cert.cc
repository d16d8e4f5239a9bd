#include "net/client_cert.h"

#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include <cstring>

#include "net/mbed.h"

namespace outpost::net {
namespace {

using Crt = Mbed<mbedtls_x509_crt, mbedtls_x509_crt_init, mbedtls_x509_crt_free>;

// DER of the UPN type id (1.3.6.1.4.1.311.20.2.3), without tag and length.
constexpr unsigned char kUpnOidDer[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x14, 0x02, 0x03};

constexpr unsigned char kOtherNameTag =
    MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0;        // [0] otherName
constexpr unsigned char kRfc822Tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 1;  // [1] rfc822Name

Status Malformed(const char* what) {
  return Status::InvalidArgument(std::string("malformed subjectAltName: ") + what);
}

// OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }, here the
// content of the [0] IMPLICIT tag in [p, end). Appends the value when it is a UPN.
Status ReadOtherName(unsigned char* p, const unsigned char* end, ClientCertIdentity* out) {
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_OID) != 0) return Malformed("type-id");
  const bool upn = len == sizeof(kUpnOidDer) && std::memcmp(p, kUpnOidDer, len) == 0;
  p += len;
  if (mbedtls_asn1_get_tag(&p, end, &len,
                           MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0) != 0 ||
      p + len != end) {
    return Malformed("otherName value");
  }
  if (!upn) return Status::Ok();  // another kind of otherName (e.g. a FASC-N): not ours
  const unsigned char* value_end = p + len;
  if (mbedtls_asn1_get_tag(&p, value_end, &len, MBEDTLS_ASN1_UTF8_STRING) != 0) {
    return Status::Ok();  // a UPN that is not a UTF8String is not one we can compare
  }
  out->upns.emplace_back(reinterpret_cast<const char*>(p), len);
  return Status::Ok();
}

// GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName, in [p, end).
Status ReadGeneralNames(unsigned char* p, const unsigned char* end, ClientCertIdentity* out) {
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
      p + len != end) {
    return Malformed("GeneralNames");
  }
  while (p < end) {
    const unsigned char tag = *p++;
    if (mbedtls_asn1_get_len(&p, end, &len) != 0) return Malformed("GeneralName length");
    if (tag == kOtherNameTag) {
      OUTPOST_RETURN_IF_ERROR(ReadOtherName(p, p + len, out));
    } else if (tag == kRfc822Tag) {
      out->emails.emplace_back(reinterpret_cast<const char*>(p), len);
    }
    p += len;
  }
  return Status::Ok();
}

// Finds the subjectAltName among the certificate's extensions, which mbedTLS keeps raw in
// v3_ext: the content of the [3] tag, a SEQUENCE OF Extension.
Status ReadSubjectAltName(const mbedtls_x509_buf& v3_ext, ClientCertIdentity* out) {
  if (v3_ext.p == nullptr || v3_ext.len == 0) return Status::Ok();
  unsigned char* p = v3_ext.p;
  const unsigned char* end = v3_ext.p + v3_ext.len;
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) {
    return Malformed("extensions");
  }
  end = p + len;
  while (p < end) {
    // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET }
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) !=
        0) {
      return Malformed("extension");
    }
    const unsigned char* ext_end = p + len;
    mbedtls_x509_buf oid{};
    if (mbedtls_asn1_get_tag(&p, ext_end, &oid.len, MBEDTLS_ASN1_OID) != 0) {
      return Malformed("extension id");
    }
    oid.p = p;
    p += oid.len;
    int critical = 0;
    if (p < ext_end && *p == MBEDTLS_ASN1_BOOLEAN &&
        mbedtls_asn1_get_bool(&p, ext_end, &critical) != 0) {
      return Malformed("extension criticality");
    }
    if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
        p + len != ext_end) {
      return Malformed("extension value");
    }
    if (oid.len == MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME) &&
        std::memcmp(oid.p, MBEDTLS_OID_SUBJECT_ALT_NAME, oid.len) == 0) {
      return ReadGeneralNames(p, ext_end, out);
    }
    p = const_cast<unsigned char*>(ext_end);
  }
  return Status::Ok();
}

}  // namespace

Result<ClientCertIdentity> DescribeClientCertificate(std::string_view der) {
  if (der.empty()) return Status::InvalidArgument("no certificate");
  Crt crt;
  int ret;
  if (der.find("-----BEGIN ") != std::string_view::npos) {
    std::string pem(der);  // mbedTLS wants the NUL inside the length for PEM
    ret = mbedtls_x509_crt_parse(crt.get(), reinterpret_cast<const unsigned char*>(pem.c_str()),
                                 pem.size() + 1);
  } else {
    ret = mbedtls_x509_crt_parse_der(crt.get(), reinterpret_cast<const unsigned char*>(der.data()),
                                     der.size());
  }
  if (ret != 0) return Status::InvalidArgument("the certificate does not parse");
  const mbedtls_x509_crt* c = crt.get();
  ClientCertIdentity id;
  id.subject = X509DnString(&c->subject);
  id.issuer = X509DnString(&c->issuer);
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < c->serial.len; ++i) {
    id.serial += kHex[c->serial.p[i] >> 4];
    id.serial += kHex[c->serial.p[i] & 0xf];
  }
  id.not_after = X509TimeToUnix(c->valid_to);
  OUTPOST_RETURN_IF_ERROR(ReadSubjectAltName(c->v3_ext, &id));
  return id;
}

std::string_view CertificateRefusal(uint32_t flags, bool has_cert) {
  if (!has_cert || (flags & MBEDTLS_X509_BADCERT_MISSING) != 0) return "no_certificate";
  constexpr uint32_t kUntrusted = MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_BAD_MD |
                                  MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_BAD_KEY |
                                  MBEDTLS_X509_BADCERT_SKIP_VERIFY | MBEDTLS_X509_BADCERT_OTHER |
                                  MBEDTLS_X509_BADCERT_CN_MISMATCH;
  constexpr uint32_t kCrlInvalid = MBEDTLS_X509_BADCRL_NOT_TRUSTED | MBEDTLS_X509_BADCRL_FUTURE |
                                   MBEDTLS_X509_BADCRL_BAD_MD | MBEDTLS_X509_BADCRL_BAD_PK |
                                   MBEDTLS_X509_BADCRL_BAD_KEY;
  constexpr uint32_t kUsage = MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
                              MBEDTLS_X509_BADCERT_NS_CERT_TYPE;
  if (flags & kUntrusted) return "untrusted";
  if (flags & MBEDTLS_X509_BADCERT_REVOKED) return "revoked";
  if (flags & MBEDTLS_X509_BADCERT_EXPIRED) return "expired";
  if (flags & MBEDTLS_X509_BADCERT_FUTURE) return "not_yet_valid";
  if (flags & MBEDTLS_X509_BADCRL_EXPIRED) return "crl_expired";
  if (flags & kCrlInvalid) return "crl_invalid";
  if (flags & kUsage) return "wrong_usage";
  if (flags != 0) return "untrusted";  // a flag this version does not name: refuse
  return "";
}

std::string_view CertificateRefusalMessage(std::string_view reason) {
  if (reason == "no_certificate") {
    return "no client certificate was presented: insert your card and reload the page";
  }
  if (reason == "untrusted") return "the certificate is not issued by a CA this site trusts";
  if (reason == "revoked") return "the certificate has been revoked";
  if (reason == "expired") return "the certificate has expired";
  if (reason == "not_yet_valid") return "the certificate is not valid yet";
  if (reason == "crl_expired") {
    return "the site's revocation list for this CA is out of date; ask an administrator";
  }
  if (reason == "crl_invalid") return "the site's revocation list for this CA is not valid";
  if (reason == "wrong_usage") return "the certificate may not be used for signing in";
  return "the certificate was refused";
}

}  // namespace outpost::net
