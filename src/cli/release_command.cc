// outpost release keygen|sign|verify|fingerprint: ed25519 signatures over an install image's
// SHA256SUMS (appliance/make-image.sh signs, appliance/install.sh verifies with the installed
// binary and the public key pinned at /etc/outpost/release.pub). And outpost health: GET
// /readyz over HTTPS, for the installer, which runs where no other HTTPS client exists.
//
// Key and signature files are one header line and one line of base64url, so that an operator
// can read, copy and compare them:
//   outpost-release-public-key-v1 / 32-byte ed25519 public key
//   outpost-release-secret-key-v1 / 64-byte libsodium secret key (0600)
//   outpost-release-signature-v1  / 64-byte detached signature over the exact file bytes
#include <arpa/inet.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "net/mbed.h"
#include "util/fs.h"
#include "util/unique_fd.h"

namespace outpost::cli {
namespace {

constexpr std::string_view kPublicHeader = "outpost-release-public-key-v1";
constexpr std::string_view kSecretHeader = "outpost-release-secret-key-v1";
constexpr std::string_view kSignatureHeader = "outpost-release-signature-v1";

struct ReleaseArgs {
  std::string key;   // secret key file
  std::string pub;   // public key file
  std::string file;  // the signed file
  std::string sig;   // signature file; default <file>.sig
  std::string out;
};

std::string Armor(std::string_view header, std::string_view bytes) {
  return std::string(header) + "\n" + Base64UrlEncode(bytes) + "\n";
}

// The bytes of a file written by Armor. InvalidArgument names the file and what is wrong.
Result<SecretString> Unarmor(const std::string& path, std::string_view header, size_t size) {
  OUTPOST_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  SecretString wiped(std::move(text));
  const std::string& t = wiped.value();
  size_t nl = t.find('\n');
  if (nl == std::string::npos || std::string_view(t).substr(0, nl) != header) {
    return Status::InvalidArgument(path + ": is not an " + std::string(header) + " file");
  }
  std::string_view body = std::string_view(t).substr(nl + 1);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  SecretString bytes;
  if (!Base64UrlDecode(body, bytes.mutable_value()) || bytes.size() != size) {
    return Status::InvalidArgument(path + ": damaged " + std::string(header) + " file");
  }
  return bytes;
}

// "SHA256:" and the hex SHA-256 of the raw public key, in groups of four for reading aloud.
std::string Fingerprint(std::string_view public_key) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(public_key.data()),
                     public_key.size());
  std::string hex = HexEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof(digest)));
  std::string out = "SHA256:";
  for (size_t i = 0; i < hex.size(); i += 4) {
    if (i > 0) out += ' ';
    out += hex.substr(i, 4);
  }
  return out;
}

int Keygen(const ReleaseArgs& a) {
  std::string pub_path = a.pub.empty() ? a.key + ".pub" : a.pub;
  for (const std::string& p : {a.key, pub_path}) {
    if (PathExists(p)) return Fail(Status::AlreadyExists(p + " already exists: not replaced"));
  }
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  SecretString sk(std::string(crypto_sign_SECRETKEYBYTES, '\0'));
  crypto_sign_keypair(pk, reinterpret_cast<unsigned char*>(sk.mutable_value()->data()));
  std::string_view pk_bytes(reinterpret_cast<char*>(pk), sizeof(pk));
  SecretString armored(Armor(kSecretHeader, sk.value()));
  if (Status st = WriteFileAtomic(a.key, armored.value(), 0600); !st.ok()) return Fail(st);
  if (Status st = WriteFileAtomic(pub_path, Armor(kPublicHeader, pk_bytes), 0644); !st.ok()) {
    unlink(a.key.c_str());
    return Fail(st);
  }
  std::cout << "release signing key written to " << a.key << " (mode 0600)\n"
            << "public key: " << pub_path << "\n"
            << "fingerprint: " << Fingerprint(pk_bytes) << "\n";
  return kExitOk;
}

int Sign(const ReleaseArgs& a) {
  Result<SecretString> sk = Unarmor(a.key, kSecretHeader, crypto_sign_SECRETKEYBYTES);
  if (!sk.ok()) return Fail(sk.status());
  Result<std::string> data = ReadFile(a.file);
  if (!data.ok()) return Fail(data.status());
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(data->data()),
                       data->size(), reinterpret_cast<const unsigned char*>(sk->value().data()));
  std::string out = a.sig.empty() ? a.file + ".sig" : a.sig;
  std::string_view sig_bytes(reinterpret_cast<char*>(sig), sizeof(sig));
  if (Status st = WriteFileAtomic(out, Armor(kSignatureHeader, sig_bytes), 0644); !st.ok()) {
    return Fail(st);
  }
  // The public half sits at offset 32 of a libsodium ed25519 secret key.
  std::cout << "signed " << a.file << " -> " << out << " with key "
            << Fingerprint(std::string_view(sk->value()).substr(crypto_sign_SEEDBYTES)) << "\n";
  return kExitOk;
}

int Verify(const ReleaseArgs& a) {
  Result<SecretString> pk = Unarmor(a.pub, kPublicHeader, crypto_sign_PUBLICKEYBYTES);
  if (!pk.ok()) return Fail(pk.status());
  std::string sig_path = a.sig.empty() ? a.file + ".sig" : a.sig;
  Result<SecretString> sig = Unarmor(sig_path, kSignatureHeader, crypto_sign_BYTES);
  if (!sig.ok()) return Fail(sig.status());
  Result<std::string> data = ReadFile(a.file);
  if (!data.ok()) return Fail(data.status());
  if (crypto_sign_verify_detached(
          reinterpret_cast<const unsigned char*>(sig->value().data()),
          reinterpret_cast<const unsigned char*>(data->data()), data->size(),
          reinterpret_cast<const unsigned char*>(pk->value().data())) != 0) {
    return Fail(Status::PermissionDenied(a.file + ": BAD SIGNATURE: " + sig_path +
                                         " was not made over this file by the key " +
                                         Fingerprint(pk->value()) + " (" + a.pub + ")"));
  }
  std::cout << a.file << ": good signature by " << Fingerprint(pk->value()) << "\n";
  return kExitOk;
}

int PrintFingerprint(const ReleaseArgs& a) {
  Result<SecretString> pk = Unarmor(a.pub, kPublicHeader, crypto_sign_PUBLICKEYBYTES);
  if (!pk.ok()) return Fail(pk.status());
  std::cout << Fingerprint(pk->value()) << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// outpost health: one HTTPS GET, the peer's certificate pinned to the server's own certificate
// file. Pinning rather than CA-and-name verification works the same for the generated site CA
// and for a certificate imported from the site's PKI, and needs no host name: the question is
// only "is the thing on this port our server, and is it ready?".

struct HealthArgs {
  std::string url;   // https://ADDRESS:PORT/PATH, numeric address
  std::string cert;  // the certificate the server must present
  int wait_seconds = 0;
};

struct Url {
  std::string host;  // numeric, without brackets
  int port = 443;
  std::string path = "/readyz";
};

Result<Url> ParseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.rfind(kScheme, 0) != 0) return Status::InvalidArgument("--url must start with https://");
  std::string rest = url.substr(kScheme.size());
  Url u;
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    u.path = rest.substr(slash);
    rest.resize(slash);
  }
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("--url: unclosed '['");
    u.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else {
    size_t colon = rest.find(':');
    u.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("--url: bad port '" + port + "'");
    }
    u.port = std::stoi(port);
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, u.host.c_str(), buf) != 1 &&
      inet_pton(AF_INET6, u.host.c_str(), buf) != 1) {
    return Status::InvalidArgument(
        "--url: the host must be a numeric address (there is no "
        "resolver on the appliance): '" +
        u.host + "'");
  }
  return u;
}

// The URL of this appliance's readiness check: server.listen, with a wildcard address
// replaced by the loopback address of its family.
std::string DefaultUrl(const config::Config& cfg) {
  std::string host = cfg.server.listen.host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "::1";
  if (host == "localhost") host = "127.0.0.1";
  if (host.find(':') != std::string::npos && host[0] != '[') host = "[" + host + "]";
  return "https://" + host + ":" + std::to_string(cfg.server.listen.port) + "/readyz";
}

int SodiumRandom(void*, unsigned char* out, size_t len) {
  randombytes_buf(out, len);
  return 0;
}

// Blocking socket I/O bounded by SO_RCVTIMEO/SO_SNDTIMEO.
int SendCb(void* ctx, const unsigned char* buf, size_t len) {
  ssize_t n = send(*static_cast<int*>(ctx), buf, len, MSG_NOSIGNAL);
  return n >= 0 ? static_cast<int>(n) : MBEDTLS_ERR_NET_SEND_FAILED;
}
int RecvCb(void* ctx, unsigned char* buf, size_t len) {
  ssize_t n = recv(*static_cast<int*>(ctx), buf, len, 0);
  return n >= 0 ? static_cast<int>(n) : MBEDTLS_ERR_NET_RECV_FAILED;
}

std::string MbedError(int ret) {
  char text[160];
  mbedtls_strerror(ret, text, sizeof(text));
  return text;
}

// One GET; returns the HTTP status code. Unavailable when nothing answers, PermissionDenied
// when the peer is not the server whose certificate is `cert_der`.
Result<int> GetStatus(const Url& url, std::string_view pinned_der) {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, url.host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(url.port));
    addr_len = sizeof(*in4);
  } else {
    inet_pton(AF_INET6, url.host.c_str(), &in6->sin6_addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(url.port));
    addr_len = sizeof(*in6);
  }
  UniqueFd fd(socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoStatus("socket", errno);
  timeval tv{5, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    return Status::Unavailable("connect to " + url.host + ":" + std::to_string(url.port) + ": " +
                               std::strerror(errno));
  }
  net::Mbed<mbedtls_ssl_config, mbedtls_ssl_config_init, mbedtls_ssl_config_free> conf;
  net::Mbed<mbedtls_ssl_context, mbedtls_ssl_init, mbedtls_ssl_free> ssl;
  if (mbedtls_ssl_config_defaults(conf.get(), MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                  MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
    return Status::Internal("mbedtls_ssl_config_defaults failed");
  }
  // The chain is not checked against a CA: the leaf is compared with the pinned one below.
  mbedtls_ssl_conf_authmode(conf.get(), MBEDTLS_SSL_VERIFY_NONE);
  mbedtls_ssl_conf_rng(conf.get(), SodiumRandom, nullptr);
  if (int r = mbedtls_ssl_setup(ssl.get(), conf.get()); r != 0) {
    return Status::Internal("TLS setup: " + MbedError(r));
  }
  int sock = fd.get();
  mbedtls_ssl_set_bio(ssl.get(), &sock, SendCb, RecvCb, nullptr);
  if (int r = mbedtls_ssl_handshake(ssl.get()); r != 0) {
    return Status::Unavailable("TLS handshake: " + MbedError(r));
  }
  const mbedtls_x509_crt* peer = mbedtls_ssl_get_peer_cert(ssl.get());
  if (peer == nullptr ||
      std::string_view(reinterpret_cast<const char*>(peer->raw.p), peer->raw.len) != pinned_der) {
    return Status::PermissionDenied("the server on " + url.host + ":" + std::to_string(url.port) +
                                    " does not present this appliance's certificate");
  }
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  std::string request = "GET " + url.path + " HTTP/1.1\r\nHost: " + host + ":" +
                        std::to_string(url.port) + "\r\nConnection: close\r\n\r\n";
  for (size_t done = 0; done < request.size();) {
    int w =
        mbedtls_ssl_write(ssl.get(), reinterpret_cast<const unsigned char*>(request.data()) + done,
                          request.size() - done);
    if (w <= 0) return Status::Unavailable("TLS write: " + MbedError(w));
    done += static_cast<size_t>(w);
  }
  std::string head;
  unsigned char buf[512];
  while (head.find("\r\n") == std::string::npos && head.size() < 4096) {
    int r = mbedtls_ssl_read(ssl.get(), buf, sizeof(buf));
    if (r <= 0) return Status::Unavailable("no HTTP response: " + MbedError(r));
    head.append(reinterpret_cast<char*>(buf), static_cast<size_t>(r));
  }
  // "HTTP/1.1 200 OK"
  if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12) {
    return Status::Unavailable("not an HTTP response");
  }
  mbedtls_ssl_close_notify(ssl.get());
  return std::atoi(head.c_str() + 9);
}

// The DER of the first certificate in a PEM file.
Result<std::string> LeafDer(const std::string& path) {
  OUTPOST_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  net::Mbed<mbedtls_x509_crt, mbedtls_x509_crt_init, mbedtls_x509_crt_free> crt;
  if (int r = mbedtls_x509_crt_parse(crt.get(), reinterpret_cast<const unsigned char*>(pem.c_str()),
                                     pem.size() + 1);
      r != 0) {
    return Status::InvalidArgument(path + ": not a certificate: " + MbedError(r));
  }
  return std::string(reinterpret_cast<const char*>(crt.get()->raw.p), crt.get()->raw.len);
}

int Health(const GlobalOptions& global, const HealthArgs& a) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  Result<Url> url = ParseUrl(a.url.empty() ? DefaultUrl(*cfg) : a.url);
  if (!url.ok()) return Fail(url.status());
  Result<std::string> pinned = LeafDer(a.cert.empty() ? config::CertFile(*cfg) : a.cert);
  if (!pinned.ok()) return Fail(pinned.status());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(a.wait_seconds);
  Status last;
  for (;;) {
    Result<int> code = GetStatus(*url, *pinned);
    if (code.ok() && *code == 200) {
      std::cout << "ready: https://" << url->host << ":" << url->port << url->path << "\n";
      return kExitOk;
    }
    last =
        code.ok() ? Status::Unavailable("answered HTTP " + std::to_string(*code)) : code.status();
    // A stranger on the port will not turn into our server by waiting.
    if (last.code() == Code::kPermissionDenied) break;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return Fail(last.WithContext("not ready (" + url->path + ")"));
}

}  // namespace

void AddReleaseCommands(CLI::App* app, GlobalOptions* global, Action* action) {
  auto a = std::make_shared<ReleaseArgs>();
  CLI::App* release =
      AddSubcommand(app, "release", "Sign and verify install images (SHA256SUMS, ed25519)");
  release->require_subcommand(1);
  auto bind = [&](CLI::App* cmd, int (*fn)(const ReleaseArgs&)) {
    cmd->callback([a, action, fn] { *action = [a, fn] { return fn(*a); }; });
  };

  CLI::App* keygen = AddSubcommand(release, "keygen", "Create a release signing key pair");
  keygen->add_option("--out", a->key, "Secret key file to write (0600)")->required();
  keygen->add_option("--pub", a->pub, "Public key file to write (default: <out>.pub)");
  bind(keygen, Keygen);

  CLI::App* sign = AddSubcommand(release, "sign", "Sign a file with a release secret key");
  sign->add_option("file", a->file, "File to sign (SHA256SUMS)")->required();
  sign->add_option("--key", a->key, "Release secret key file")->required();
  sign->add_option("--sig", a->sig, "Signature file to write (default: <file>.sig)");
  bind(sign, Sign);

  CLI::App* verify = AddSubcommand(release, "verify", "Check a file's release signature");
  verify->add_option("file", a->file, "Signed file (SHA256SUMS)")->required();
  verify
      ->add_option("--pub", a->pub,
                   "Trusted public key (the installer pins "
                   "/etc/outpost/release.pub)")
      ->required();
  verify->add_option("--sig", a->sig, "Signature file (default: <file>.sig)");
  bind(verify, Verify);

  CLI::App* fp = AddSubcommand(release, "fingerprint", "Print a public key's fingerprint");
  fp->add_option("--pub", a->pub, "Public key file")->required();
  bind(fp, PrintFingerprint);

  auto h = std::make_shared<HealthArgs>();
  CLI::App* health = AddSubcommand(app, "health", "Check that the server answers GET /readyz");
  health->add_option("--url", h->url,
                     "https://ADDRESS:PORT/PATH (default: server.listen, /readyz)");
  health->add_option("--cert", h->cert,
                     "Certificate the server must present (default: its configured one)");
  health->add_option("--wait", h->wait_seconds, "Retry for up to this many seconds")
      ->check(CLI::Range(0, 3600));
  health->callback([global, h, action] { *action = [global, h] { return Health(*global, *h); }; });
}

}  // namespace outpost::cli
