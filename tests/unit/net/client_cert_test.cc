#include "net/client_cert.h"

#include <mbedtls/x509.h>

#include <catch2/catch.hpp>
#include <ctime>

#include "net/tls.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace outpost::net {
namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

testing::TestCa Ca(const char* name) {
  Result<testing::TestCa> ca = testing::MakeTestCa(name);
  REQUIRE(ca.ok());
  return *ca;
}

testing::TestCert Issue(const testing::TestCa& ca, testing::UserCertSpec spec) {
  Result<testing::TestCert> cert = testing::IssueUserCert(ca, spec);
  INFO(cert.status().ToString());
  REQUIRE(cert.ok());
  return *cert;
}

std::string Hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

TEST_CASE("the UPN otherName and rfc822Name are read from the subjectAltName",
          "[unit][net][client_cert]") {
  testing::TestCa ca = Ca("Card CA");
  testing::TestCert cert =
      Issue(ca, {"DOE.JANE.1234567890", {"1234567890@mil"}, {"jane.doe@example.mil", "j@x.mil"}});
  Result<ClientCertIdentity> id = DescribeClientCertificate(cert.cert_pem);
  REQUIRE(id.ok());
  CHECK(id->upns == std::vector<std::string>{"1234567890@mil"});
  CHECK(id->emails == std::vector<std::string>{"jane.doe@example.mil", "j@x.mil"});
  CHECK(id->subject == "CN=DOE.JANE.1234567890, O=Outpost Test");
  CHECK(id->issuer == "CN=Card CA, O=Outpost Test");
  CHECK(id->serial == Hex(cert.serial));
  CHECK(id->not_after > Now());
}

TEST_CASE("a certificate without a subjectAltName has no UPN or email",
          "[unit][net][client_cert]") {
  testing::TestCa ca = Ca("Card CA");
  testing::TestCert cert = Issue(ca, {"NO.SAN", {}, {}});
  Result<ClientCertIdentity> id = DescribeClientCertificate(cert.cert_pem);
  REQUIRE(id.ok());
  CHECK(id->upns.empty());
  CHECK(id->emails.empty());
  CHECK(DescribeClientCertificate("not a certificate").status().code() == Code::kInvalidArgument);
}

TEST_CASE("verification flags map to one reason in a fixed order", "[unit][net][client_cert]") {
  CHECK(CertificateRefusal(0, true).empty());
  CHECK(CertificateRefusal(0, false) == "no_certificate");
  CHECK(CertificateRefusal(MBEDTLS_X509_BADCERT_MISSING, true) == "no_certificate");
  CHECK(CertificateRefusal(MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_EXPIRED, true) ==
        "untrusted");
  CHECK(CertificateRefusal(MBEDTLS_X509_BADCERT_REVOKED | MBEDTLS_X509_BADCERT_EXPIRED, true) ==
        "revoked");
  CHECK(CertificateRefusal(MBEDTLS_X509_BADCERT_EXPIRED, true) == "expired");
  CHECK(CertificateRefusal(MBEDTLS_X509_BADCERT_FUTURE, true) == "not_yet_valid");
  CHECK(CertificateRefusal(MBEDTLS_X509_BADCRL_EXPIRED, true) == "crl_expired");
  CHECK(CertificateRefusal(MBEDTLS_X509_BADCRL_NOT_TRUSTED, true) == "crl_invalid");
  CHECK(CertificateRefusal(MBEDTLS_X509_BADCERT_EXT_KEY_USAGE, true) == "wrong_usage");
}

struct TrustFiles {
  testing::TempDir dir;
  testing::TestCa ca = Ca("Card CA");
  ClientAuthOptions options;
  TrustFiles() {
    options.mode = ClientAuthMode::kOptional;
    options.ca_file = dir.Sub("cas.pem");
    testing::WriteTestFile(options.ca_file, ca.cert_pem);
  }
  void AddCrl(const std::string& name, const std::string& bytes) {
    testing::WriteTestFile(dir.Sub(name), bytes);
    options.crl_files.push_back(dir.Sub(name));
  }
};

TEST_CASE("client trust loads a CA bundle with PEM and DER CRLs", "[unit][net][client_cert]") {
  TrustFiles t;
  testing::TestCa second = Ca("Second CA");
  testing::WriteTestFile(t.options.ca_file, t.ca.cert_pem + second.cert_pem);
  Result<std::string> pem = testing::MakeCrl(t.ca, {}, Now() - 60, Now() + 86400, true);
  Result<std::string> der =
      testing::MakeCrl(second, {"\x41\x02"}, Now() - 60, Now() + 86400, false);
  REQUIRE(pem.ok());
  REQUIRE(der.ok());
  t.AddCrl("a.crl", *pem);
  t.AddCrl("b.crl", *der);
  std::vector<std::string> warnings;
  Result<std::shared_ptr<const ClientTrust>> trust = ClientTrust::Load(t.options, Now(), &warnings);
  INFO(trust.status().ToString());
  REQUIRE(trust.ok());
  CHECK((*trust)->ca_count() == 2);
  CHECK((*trust)->crl_count() == 2);
  CHECK(warnings.empty());
}

TEST_CASE("client trust refuses missing files, non-CA certificates and foreign CRLs",
          "[unit][net][client_cert]") {
  TrustFiles t;
  SECTION("a missing bundle names the file") {
    t.options.ca_file = t.dir.Sub("nope.pem");
    Status st = ClientTrust::Load(t.options, Now(), nullptr).status();
    CHECK(st.code() != Code::kOk);
    CHECK(st.message().find("nope.pem") != std::string::npos);
  }
  SECTION("a leaf certificate in the bundle") {
    testing::TestCert leaf = Issue(t.ca, {"LEAF", {"l@x"}, {}});
    testing::WriteTestFile(t.options.ca_file, t.ca.cert_pem + leaf.cert_pem);
    Status st = ClientTrust::Load(t.options, Now(), nullptr).status();
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.message().find("is not a CA certificate") != std::string::npos);
  }
  SECTION("a CRL signed by a CA outside the bundle") {
    Result<std::string> crl =
        testing::MakeCrl(Ca("Elsewhere CA"), {}, Now() - 60, Now() + 60, true);
    REQUIRE(crl.ok());
    t.AddCrl("other.crl", *crl);
    Status st = ClientTrust::Load(t.options, Now(), nullptr).status();
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.message().find("other.crl") != std::string::npos);
    CHECK(st.message().find("not a CA of") != std::string::npos);
  }
  SECTION("a file that is no CRL") {
    t.AddCrl("junk.crl", "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
    Status st = ClientTrust::Load(t.options, Now(), nullptr).status();
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.message().find("junk.crl") != std::string::npos);
  }
}

TEST_CASE("a CRL past its nextUpdate and a CA without CRL are warned about",
          "[unit][net][client_cert]") {
  TrustFiles t;
  std::vector<std::string> warnings;
  REQUIRE(ClientTrust::Load(t.options, Now(), &warnings).ok());
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("not checked for revocation") != std::string::npos);

  Result<std::string> stale = testing::MakeCrl(t.ca, {}, Now() - 7200, Now() - 3600, true);
  REQUIRE(stale.ok());
  t.AddCrl("stale.crl", *stale);
  warnings.clear();
  REQUIRE(ClientTrust::Load(t.options, Now(), &warnings).ok());
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("past its nextUpdate") != std::string::npos);
  CHECK(warnings[0].find("refused") != std::string::npos);
}

}  // namespace
}  // namespace outpost::net
