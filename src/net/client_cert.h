// What a client certificate (a smart card's PIV authentication certificate) says about its
// holder, for mapping it to a local account, and why a verified handshake's flags refuse it.
// mbedTLS 2.28 does not list rfc822Name entries or parse the Microsoft UPN otherName, so the
// subjectAltName extension is read here with the mbedtls_asn1 functions.
#ifndef OUTPOST_NET_CLIENT_CERT_H_
#define OUTPOST_NET_CLIENT_CERT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace outpost::net {

// Microsoft's user principal name: SAN otherName with this type id, a UTF8String value.
inline constexpr std::string_view kUpnOid = "1.3.6.1.4.1.311.20.2.3";

struct ClientCertIdentity {
  std::string subject;  // the full subject DN as mbedTLS prints it: "CN=DOE.JOHN.1234567890, ..."
  std::string issuer;   // the issuer DN, same form
  std::string serial;   // upper-case hex, no separators: "4A1F..."
  std::vector<std::string> upns;    // SAN otherName UPN values, in certificate order
  std::vector<std::string> emails;  // SAN rfc822Name values, in certificate order
  int64_t not_after = 0;            // unix seconds, UTC
};

// Describes the certificate `der` (DER, or PEM: then its first certificate). InvalidArgument when
// it does not parse or its subjectAltName is malformed (a UPN that is not a UTF8String is skipped,
// not an error). Thread-safe.
Result<ClientCertIdentity> DescribeClientCertificate(std::string_view der);

// Why a handshake with these verification flags (PeerCertificate) cannot sign anyone in, as a
// stable reason for audit records and API errors; "" when nothing is wrong. With `has_cert`
// false: "no_certificate". Otherwise, in this order of precedence: "untrusted" (not signed by a
// configured CA, or with a refused algorithm or key), "revoked", "expired", "not_yet_valid",
// "crl_expired" (a CRL past its nextUpdate and stale CRLs are refused), "crl_invalid",
// "wrong_usage" (keyUsage or extendedKeyUsage forbid client authentication).
std::string_view CertificateRefusal(uint32_t verify_flags, bool has_cert);

// A sentence for the user for each reason CertificateRefusal returns. Thread-safe.
std::string_view CertificateRefusalMessage(std::string_view reason);

}  // namespace outpost::net

#endif  // OUTPOST_NET_CLIENT_CERT_H_
