// A test PKI made in the test with mbedTLS: CAs, user (smart-card style) certificates with
// UPN and email subjectAltNames, any validity period, and CRLs (mbedTLS 2.28 has no CRL
// writer, so this encodes the DER itself and signs it with the CA key). Nothing is read from
// or written to disk, and no openssl binary is needed.
#ifndef OUTPOST_TESTS_SUPPORT_TEST_PKI_H_
#define OUTPOST_TESTS_SUPPORT_TEST_PKI_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace outpost::testing {

// A CA: ECDSA P-256, self-signed, CA:true, keyCertSign|cRLSign. Subject "CN=<name>, O=Outpost
// Test".
struct TestCa {
  std::string subject;  // as written, "CN=..., O=Outpost Test"
  std::string cert_pem;
  std::string key_pem;
};

struct TestCert {
  std::string cert_pem;
  std::string key_pem;  // unencrypted SEC1 PEM
  std::string serial;   // the serial's content bytes, exactly as in the certificate
};

struct UserCertSpec {
  std::string common_name;          // subject "CN=<common_name>, O=Outpost Test"
  std::vector<std::string> upns;    // SAN otherName 1.3.6.1.4.1.311.20.2.3 (UTF8String)
  std::vector<std::string> emails;  // SAN rfc822Name
  int64_t not_before = 0;           // unix seconds; 0: an hour ago
  int64_t not_after = 0;            // unix seconds; 0: in a year
  bool client_auth_usage = true;    // extendedKeyUsage clientAuth (else serverAuth only)
};

// Valid from an hour ago for ten years. Internal when mbedTLS fails. Thread-safe.
Result<TestCa> MakeTestCa(std::string_view common_name);

// A certificate for `spec`, signed by `ca`: digitalSignature, CA:false. Thread-safe.
Result<TestCert> IssueUserCert(const TestCa& ca, const UserCertSpec& spec);

// A v2 CRL of `ca` listing `revoked_serials` (TestCert::serial values), thisUpdate and
// nextUpdate as given (unix seconds), signed ECDSA-SHA256. PEM ("X509 CRL") or DER.
Result<std::string> MakeCrl(const TestCa& ca, const std::vector<std::string>& revoked_serials,
                            int64_t this_update, int64_t next_update, bool pem);

}  // namespace outpost::testing

#endif  // OUTPOST_TESTS_SUPPORT_TEST_PKI_H_
