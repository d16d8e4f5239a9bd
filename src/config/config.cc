#include "config/config.h"

#include <cctype>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <map>
#include <new>
#include <set>
#include <span>
#include <system_error>
#include <type_traits>
#include <variant>

// toml++ without exceptions in this file: parse() returns a parse_result instead of throwing,
// so no toml++ exception can escape. The library puts the two modes in different ABI
// namespaces, so other files may include it with exceptions on.
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

namespace outpost::config {

namespace {

constexpr std::string_view kArgon2Names[] = {"interactive", "moderate", "sensitive"};
constexpr std::string_view kPasswordProfileNames[] = {"nist", "stig"};
constexpr std::string_view kBannerColorNames[] = {"green",  "blue",   "red",
                                                  "orange", "yellow", "purple"};
constexpr std::string_view kLogLevelNames[] = {"debug", "info", "warn", "error"};
constexpr std::string_view kClientAuthNames[] = {"off", "optional", "required"};
constexpr std::string_view kCrlStaleNames[] = {"refuse", "accept"};
constexpr std::string_view kCertMapByNames[] = {"upn", "email", "subject"};
constexpr std::string_view kPasswordLoginNames[] = {"all", "unprivileged", "none"};
constexpr std::string_view kRequire2faNames[] = {"none", "privileged", "all"};
constexpr std::string_view kAuditOnFailureNames[] = {"refuse", "continue"};
constexpr std::string_view kSiemTransportNames[] = {"tcp", "tls"};

// A config file is a few kilobytes; the cap keeps a wrong --config (a disk image, /dev/zero)
// from being read into memory.
constexpr size_t kMaxFileBytes = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Text helpers.

// `text` as a TOML basic string: quoted, with quotes, backslashes and control characters
// escaped. Also used to quote values in error messages, which then stay on one line.
std::string TomlString(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

bool IsBareKey(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// A key as the operator would write it: bare when possible, else quoted.
std::string KeyText(std::string_view key) {
  return IsBareKey(key) ? std::string(key) : TomlString(key);
}

// True when `text` holds a control character other than those in `allowed`.
bool HasControl(std::string_view text, std::string_view allowed = "") {
  return std::any_of(text.begin(), text.end(), [&](unsigned char c) {
    return (c < 0x20 || c == 0x7f) && allowed.find(static_cast<char>(c)) == std::string_view::npos;
  });
}

// Optimal string alignment distance: edits, counting a swap of neighbours as one, which is
// the commonest typo ("listne").
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// How far a typo may be from a known name and still be suggested.
size_t TypoBudget(std::string_view name) { return name.size() <= 3 ? 1 : name.size() <= 8 ? 2 : 3; }

// ---------------------------------------------------------------------------------------------
// Value checks. Each returns "" when `value` is acceptable, else what is wrong with it; a check
// may normalize `value` (host names are lower-cased).
using StringCheck = std::string (*)(std::string& value);

std::string CheckAbsolutePath(std::string& value) {
  if (value.empty()) return "must not be empty";
  if (HasControl(value)) return "must not contain control characters";
  if (value.front() != '/') return "must be an absolute path, got " + TomlString(value);
  return "";
}

std::string CheckOptionalAbsolutePath(std::string& value) {
  return value.empty() ? "" : CheckAbsolutePath(value);
}

std::string CheckTlsVersion(std::string& value) {
  if (value == "1.2") return "";
  return "must be \"1.2\" (mbedTLS 2.28 has no TLS 1.3), got " + TomlString(value);
}

// "__Host-" makes browsers refuse the cookie unless it is Secure, has Path=/ and no Domain,
// so that no other host or plain-HTTP page can set or shadow the session cookie.
std::string CheckCookieName(std::string& value) {
  constexpr std::string_view kPrefix = "__Host-";
  if (!value.starts_with(kPrefix) || value.size() == kPrefix.size() || value.size() > 64) {
    return "must be \"__Host-\" followed by 1 to 57 characters, got " + TomlString(value);
  }
  constexpr std::string_view kSeparators = "()<>@,;:\\\"/[]?={} \t";
  for (unsigned char c : value) {
    if (c <= 0x20 || c >= 0x7f || kSeparators.find(static_cast<char>(c)) != std::string::npos) {
      return "must be a cookie token (ASCII letters, digits and !#$%&'*+-.^_`|~), got " +
             TomlString(value);
    }
  }
  return "";
}

// The same rule as channel names in the chat domain: lower-case letters, digits, '-', '_', '.'.
std::string CheckTypeClass(std::string& value) {
  for (const char* c : {"image", "pdf", "archive", "text", "html", "executable", "other"}) {
    if (value == c) return "";
  }
  return "must be one of image, pdf, archive, text, html, executable, other; got " +
         TomlString(value);
}

std::string CheckDefaultRoom(std::string& value) {
  if (value.empty()) return "";
  if (value.size() > 80) return "must be at most 80 characters long";
  if (!std::isalnum(static_cast<unsigned char>(value[0]))) {
    return "must start with a letter or a digit";
  }
  for (char c : value) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return "may hold only lower-case letters, digits, '-', '_' and '.', got " +
             TomlString(value);
    }
  }
  return "";
}

std::string CheckDailyTime(std::string& value) {
  Result<int> minute = ParseDailyTime(value);
  return minute.ok() ? "" : minute.status().message() + ", got " + TomlString(value);
}

std::string CheckSiteName(std::string& value) {
  if (value.empty() || value.size() > 100) return "must be 1 to 100 bytes long";
  if (HasControl(value)) return "must not contain control characters";
  return "";
}

std::string CheckBannerText(std::string& value) {
  if (value.size() > 200) return "must be at most 200 bytes long";
  if (HasControl(value)) return "must not contain control characters (one line only)";
  return "";
}

std::string CheckLoginNotice(std::string& value) {
  if (value.size() > 20000) return "must be at most 20000 bytes long";
  if (HasControl(value, "\n\r\t"))
    return "must not contain control characters other than newlines and tabs";
  return "";
}

// An IP literal (kept in canonical form) or a DNS name (kept in lower case): what a server
// certificate's subjectAltName and the Host/Origin checks compare against.
std::string CheckHostName(std::string& value) {
  unsigned char bytes[sizeof(in6_addr)];
  char canonical[INET6_ADDRSTRLEN];
  if (!HasControl(value)) {
    for (int af : {AF_INET, AF_INET6}) {
      if (inet_pton(af, value.c_str(), bytes) == 1 &&
          inet_ntop(af, bytes, canonical, sizeof(canonical)) != nullptr) {
        value = canonical;
        return "";
      }
    }
  }
  if (value.starts_with('[')) {
    return "IPv6 addresses are written without brackets here, got " + TomlString(value);
  }
  std::string lower = value;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  bool ok = !lower.empty() && lower.size() <= 253;
  size_t start = 0;
  std::string_view last_label;
  while (ok) {
    size_t dot = lower.find('.', start);
    std::string_view label = std::string_view(lower).substr(
        start, dot == std::string::npos ? std::string::npos : dot - start);
    ok = !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-' &&
         std::all_of(label.begin(), label.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
    last_label = label;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // An all-digit last label ("10.0.0.300") is a mistyped IP address, never a DNS name.
  if (ok && std::all_of(last_label.begin(), last_label.end(),
                        [](char c) { return c >= '0' && c <= '9'; })) {
    ok = false;
  }
  if (!ok) {
    return "must be an IP address or a DNS name (letters, digits, '-' and '.'; no wildcards), "
           "got " +
           TomlString(value);
  }
  value = lower;
  return "";
}

// The SIEM is reached by address: a static binary has no resolver (no NSS).
std::string CheckSiemHost(std::string& value) {
  if (value.empty()) return "";
  unsigned char bytes[sizeof(in6_addr)];
  char canonical[INET6_ADDRSTRLEN];
  for (int af : {AF_INET, AF_INET6}) {
    if (!HasControl(value) && inet_pton(af, value.c_str(), bytes) == 1 &&
        inet_ntop(af, bytes, canonical, sizeof(canonical)) != nullptr) {
      value = canonical;
      return "";
    }
  }
  return "must be an IP address (no DNS lookups: the binary is static), got " + TomlString(value);
}

std::string CheckOptionalHostName(std::string& value) {
  return value.empty() ? "" : CheckHostName(value);
}

// RFC 5424 APP-NAME: 1*48PRINTUSASCII (33..126).
std::string CheckAppName(std::string& value) {
  if (value.empty() || value.size() > 48) return "must be 1 to 48 characters long";
  for (unsigned char c : value) {
    if (c < 33 || c > 126) {
      return "must be printable ASCII without spaces (RFC 5424 APP-NAME), got " +
             TomlString(value);
    }
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// The table of keys: the one place that says which keys exist, their types, ranges, order and
// the help shown in DefaultToml(). Loading, Describe(), DefaultToml() and KnownKeys() walk it.

template <auto kSection, auto kMember>
auto& Ref(Config& config) {
  return (config.*kSection).*kMember;
}
template <auto kSection, auto kMember>
int GetEnum(const Config& config) {
  return static_cast<int>((config.*kSection).*kMember);
}
template <auto kSection, auto kMember>
void SetEnum(Config& config, int value) {
  auto& field = (config.*kSection).*kMember;
  field = static_cast<std::remove_reference_t<decltype(field)>>(value);
}

struct IntField {
  int& (*ref)(Config&);
  int min;
  int max;
};
struct BoolField {
  bool& (*ref)(Config&);
};
struct StringField {
  std::string& (*ref)(Config&);
  StringCheck check;
};
// Items are checked one by one; duplicates are always refused.
struct StringListField {
  std::vector<std::string>& (*ref)(Config&);
  StringCheck check;
  size_t min_items;
};
// names[i] is the file's name for the enumerator whose value is i.
struct EnumField {
  int (*get)(const Config&);
  void (*set)(Config&, int);
  std::span<const std::string_view> names;
};
struct ListenField {
  ListenAddress& (*ref)(Config&);
};
// "" in the file is nullopt (off).
struct OptionalListenField {
  std::optional<ListenAddress>& (*ref)(Config&);
};
using Field = std::variant<IntField, BoolField, StringField, StringListField, EnumField,
                           ListenField, OptionalListenField>;

struct KeySpec {
  std::string_view table;
  std::string_view name;
  Field field;
  std::string_view help;  // lines for DefaultToml(), '\n'-separated, without "# "
};

struct TableSpec {
  std::string_view name;
  std::string_view help;
};

#define OUTPOST_REF(section, member) (&Ref<&Config::section, &decltype(Config::section)::member>)
#define OUTPOST_ENUM(section, member)                               \
  (&GetEnum<&Config::section, &decltype(Config::section)::member>), \
      (&SetEnum<&Config::section, &decltype(Config::section)::member>)

constexpr TableSpec kTables[] = {
    {"server", "The HTTPS server."},
    {"data", "Where the appliance keeps its state."},
    {"tls", "Server certificate and protocol."},
    {"session", "Sign-in sessions."},
    {"auth", "Passwords and sign-in throttling."},
    {"site", "What users see: site name, classification banner, notice and consent."},
    {"log", "Logging to standard error (the systemd journal)."},
    {"database", "SQLite tuning."},
    {"chat", "Rooms and messages."},
    {"files", "Shared files: limits, quotas and which types are accepted."},
    {"backup", "Scheduled backups made by the server while it runs (as 'outpost backup create')."},
    {"retention", "How long messages and files are kept; room owners may shorten it per room."},
    {"realtime", "WebSocket limits, per connection unless said otherwise."},
    {"audit", "The tamper-evident audit log: failure policy, signed checkpoints, storage alert."},
    {"siem", "Forwarding every audit record to the site SIEM as RFC 5424 syslog over TCP or TLS."},
};

constexpr KeySpec kKeys[] = {
    {"server", "listen", ListenField{OUTPOST_REF(server, listen)},
     "HOST:PORT of the HTTPS listener. HOST is an IP address, \"0.0.0.0\" or \"[::]\" (every\n"
     "interface), or \"localhost\" (127.0.0.1); IPv6 in brackets: \"[::1]:8443\".\n"
     "The command line's --listen overrides it."},
    {"server", "host_names", StringListField{OUTPOST_REF(server, host_names), &CheckHostName, 1},
     "DNS names and IP addresses by which users reach the appliance: they go into the\n"
     "generated server certificate, and requests naming any other Host or Origin are refused."},
    {"server", "http_redirect_listen",
     OptionalListenField{OUTPOST_REF(server, http_redirect_listen)},
     "HOST:PORT of a plain-HTTP listener that only redirects to HTTPS; \"\" turns it off."},
    {"server", "worker_threads", IntField{OUTPOST_REF(server, worker_threads), 1, 1024},
     "Threads serving HTTPS requests (WebSocket connections do not hold one)."},
    {"server", "max_body_bytes", IntField{OUTPOST_REF(server, max_body_bytes), 1024, 1073741824},
     "Largest request body accepted, file uploads included; larger ones get 413."},
    {"server", "max_header_bytes", IntField{OUTPOST_REF(server, max_header_bytes), 1024, 65536},
     "Largest request line plus headers accepted."},
    {"server", "read_timeout_seconds", IntField{OUTPOST_REF(server, read_timeout_seconds), 1, 300},
     "How long a request may take to arrive before the connection is closed."},
    {"server", "write_timeout_seconds",
     IntField{OUTPOST_REF(server, write_timeout_seconds), 1, 300},
     "How long a client may stall reading a response before the connection is closed."},
    {"server", "keep_alive_timeout_seconds",
     IntField{OUTPOST_REF(server, keep_alive_timeout_seconds), 1, 300},
     "How long an idle keep-alive connection is kept open."},
    {"server", "keep_alive_max_requests",
     IntField{OUTPOST_REF(server, keep_alive_max_requests), 1, 100000},
     "Requests served on one connection before it is closed."},
    {"server", "shutdown_grace_seconds",
     IntField{OUTPOST_REF(server, shutdown_grace_seconds), 0, 300},
     "On stop, how long requests in flight may take to finish; 0 stops at once."},
    {"data", "dir", StringField{OUTPOST_REF(data, dir), &CheckAbsolutePath},
     "Data directory (database, encrypted files, keys, TLS files, backups). An absolute path.\n"
     "The command line's --data overrides it."},
    {"tls", "cert_file", StringField{OUTPOST_REF(tls, cert_file), &CheckOptionalAbsolutePath},
     "PEM certificate chain; \"\" uses <data.dir>/tls/server.pem made by 'outpost init'.\n"
     "Set together with key_file."},
    {"tls", "key_file", StringField{OUTPOST_REF(tls, key_file), &CheckOptionalAbsolutePath},
     "PEM private key; \"\" uses <data.dir>/tls/server.key."},
    {"tls", "min_version", StringField{OUTPOST_REF(tls, min_version), &CheckTlsVersion},
     "Lowest TLS version accepted. Only \"1.2\": the TLS library (mbedTLS 2.28) has no TLS 1.3."},
    {"tls", "client_auth", EnumField{OUTPOST_ENUM(tls, client_auth), kClientAuthNames},
     "Smart-card (client certificate) login. \"optional\": the server asks for a certificate\n"
     "and a browser without one still gets the page and password login; \"required\": no\n"
     "connection without a valid certificate. Needs client_ca_file. Reloaded on SIGHUP."},
    {"tls", "client_ca_file",
     StringField{OUTPOST_REF(tls, client_ca_file), &CheckOptionalAbsolutePath},
     "PEM bundle of the CAs (roots and intermediates) that issue the site's smart cards."},
    {"tls", "crl_files", StringListField{OUTPOST_REF(tls, crl_files), &CheckAbsolutePath, 0},
     "CRL files (PEM or DER) of those CAs, checked on every card login; no network is used\n"
     "(no OCSP, no AIA). Copy fresh ones in and reload (SIGHUP)."},
    {"tls", "crl_stale", EnumField{OUTPOST_ENUM(tls, crl_stale), kCrlStaleNames},
     "A CRL past its nextUpdate: \"refuse\" every card of that CA until a fresh CRL is\n"
     "installed, or \"accept\" them and log a warning."},
    {"tls", "map_by", EnumField{OUTPOST_ENUM(tls, map_by), kCertMapByNames},
     "Which certificate identity maps to an account ('outpost user cert-bind'): \"upn\" (the\n"
     "Microsoft UPN in the subjectAltName, as on CAC/PIV cards), \"email\" (rfc822Name in the\n"
     "subjectAltName) or \"subject\" (the full subject DN)."},
    {"session", "idle_timeout_minutes",
     IntField{OUTPOST_REF(session, idle_timeout_minutes), 1, 1440},
     "A session unused for this long is signed out."},
    {"session", "admin_idle_timeout_minutes",
     IntField{OUTPOST_REF(session, admin_idle_timeout_minutes), 1, 1440},
     "The same for accounts whose role is privileged (administrators, user managers, ...)."},
    {"session", "absolute_timeout_hours",
     IntField{OUTPOST_REF(session, absolute_timeout_hours), 1, 720},
     "A session ends this long after sign-in, however active."},
    {"session", "cookie_name", StringField{OUTPOST_REF(session, cookie_name), &CheckCookieName},
     "Name of the session cookie; must start with \"__Host-\"."},
    {"auth", "password_min_length", IntField{OUTPOST_REF(auth, password_min_length), 8, 128},
     "Shortest password accepted, in characters."},
    {"auth", "password_max_length", IntField{OUTPOST_REF(auth, password_max_length), 8, 1024},
     "Longest password accepted, in characters; at least password_min_length."},
    {"auth", "argon2_ops", EnumField{OUTPOST_ENUM(auth, argon2_ops), kArgon2Names},
     "Argon2id cost for password hashing (libsodium crypto_pwhash presets)."},
    {"auth", "login_attempts_per_minute_per_ip",
     IntField{OUTPOST_REF(auth, login_attempts_per_minute_per_ip), 1, 10000},
     "Sign-in attempts allowed per client address per minute; more get 429."},
    {"auth", "password_profile",
     EnumField{OUTPOST_ENUM(auth, password_profile), kPasswordProfileNames},
     "Password rules: \"nist\" (NIST SP 800-63B-4: length only, no forced expiry) or \"stig\"\n"
     "(DoD: upper, lower, digit and special character, maximum and minimum age, history).\n"
     "Both refuse common breached passwords, and passwords too short without the user name,\n"
     "the site name or \"outpost\" in them."},
    {"auth", "password_max_age_days",
     IntField{OUTPOST_REF(auth, password_max_age_days), 0, 3650},
     "stig only: days after which a password must be changed at the next sign-in; 0: never."},
    {"auth", "password_min_age_days",
     IntField{OUTPOST_REF(auth, password_min_age_days), 0, 365},
     "stig only: days before users may change their password again (an administrator's\n"
     "reset is exempt)."},
    {"auth", "password_history", IntField{OUTPOST_REF(auth, password_history), 0, 24},
     "stig only: how many of the last passwords (the current one included) may not be reused."},
    {"auth", "lockout_attempts", IntField{OUTPOST_REF(auth, lockout_attempts), 0, 100},
     "Failed sign-ins within lockout_window_minutes that lock the account; 0: no lockout."},
    {"auth", "lockout_window_minutes",
     IntField{OUTPOST_REF(auth, lockout_window_minutes), 1, 1440},
     "The window in which failed sign-ins are counted toward a lock."},
    {"auth", "lockout_minutes", IntField{OUTPOST_REF(auth, lockout_minutes), 0, 525600},
     "How long a lock lasts; 0: until an administrator unlocks the account\n"
     "('outpost user unlock NAME')."},
    {"auth", "max_failures_per_hour",
     IntField{OUTPOST_REF(auth, max_failures_per_hour), 1, 100},
     "Failed sign-ins per account an hour that are evaluated at all; beyond them every attempt\n"
     "is refused without checking the password."},
    {"auth", "login_user_names_per_ip",
     IntField{OUTPOST_REF(auth, login_user_names_per_ip), 0, 10000},
     "Different user names one client address may try within login_user_names_window_minutes\n"
     "(against password spraying); more get 429. 0: no limit."},
    {"auth", "login_user_names_window_minutes",
     IntField{OUTPOST_REF(auth, login_user_names_window_minutes), 1, 1440},
     "The window for login_user_names_per_ip."},
    {"auth", "password_login", EnumField{OUTPOST_ENUM(auth, password_login), kPasswordLoginNames},
     "Who may sign in with a password: \"all\", \"unprivileged\" (privileged roles must use a\n"
     "smart card) or \"none\" (smart cards only). Anything but \"all\" needs tls.client_auth."},
    {"auth", "require_2fa", EnumField{OUTPOST_ENUM(auth, require_2fa), kRequire2faNames},
     "Who must use two-factor authentication (TOTP): \"none\", \"privileged\" roles, or\n"
     "\"all\". Someone who must and has none is made to enrol at their next sign-in."},
    {"site", "name", StringField{OUTPOST_REF(site, name), &CheckSiteName},
     "Site name shown in the title bar and on the sign-in page."},
    {"site", "banner_text", StringField{OUTPOST_REF(site, banner_text), &CheckBannerText},
     "Classification banner text shown at the top and bottom of every page; \"\" shows none."},
    {"site", "banner_color", EnumField{OUTPOST_ENUM(site, banner_color), kBannerColorNames},
     "Banner color, after the DoD classification colors."},
    {"site", "login_notice", StringField{OUTPOST_REF(site, login_notice), &CheckLoginNotice},
     "Notice-and-consent text users must accept before signing in; \"\" shows none.\n"
     "Use a TOML multi-line string (\"\"\"...\"\"\") for several paragraphs."},
    {"site", "require_consent", BoolField{OUTPOST_REF(site, require_consent)},
     "Refuse a sign-in that does not say the user accepted login_notice (\"consent\": true);\n"
     "the acceptance is recorded in the audit log. Needs login_notice."},
    {"log", "level", EnumField{OUTPOST_ENUM(log, level), kLogLevelNames},
     "Least severe message logged."},
    {"log", "requests", BoolField{OUTPOST_REF(log, requests)},
     "Log one line per HTTP request (method, path, status, time; never bodies or cookies)."},
    {"database", "busy_timeout_ms", IntField{OUTPOST_REF(database, busy_timeout_ms), 1, 600000},
     "How long a database call waits for a lock held by another process (e.g. the CLI)."},
    {"database", "wal_autocheckpoint_pages",
     IntField{OUTPOST_REF(database, wal_autocheckpoint_pages), 1, 1000000},
     "Write-ahead log size, in pages, that triggers a checkpoint into the database file."},
    {"chat", "max_message_length", IntField{OUTPOST_REF(chat, max_message_length), 1, 100000},
     "Longest message accepted, in characters (the Markdown source)."},
    {"chat", "max_group_members", IntField{OUTPOST_REF(chat, max_group_members), 3, 50},
     "Most people in a group direct message, its creator included."},
    {"chat", "default_room", StringField{OUTPOST_REF(chat, default_room), &CheckDefaultRoom},
     "Public channel every new user joins (created at start when missing); \"\" for none."},
    {"chat", "posts_per_minute", IntField{OUTPOST_REF(chat, posts_per_minute), 0, 100000},
     "Messages one account may post per minute through the REST API (a burst of as many, then\n"
     "refilled evenly); more get 429 rate_limited with Retry-After. 0 for no limit."},
    {"files", "max_file_mb", IntField{OUTPOST_REF(files, max_file_mb), 1, 102400},
     "Largest file accepted, in MiB (uploads stream; server.max_body_bytes does not apply)."},
    {"files", "user_quota_mb", IntField{OUTPOST_REF(files, user_quota_mb), 0, 10485760},
     "Total size of one user's uploads, in MiB; 0 for no quota."},
    {"files", "room_quota_mb", IntField{OUTPOST_REF(files, room_quota_mb), 0, 10485760},
     "Total size of one room's files, in MiB; 0 for no quota."},
    {"files", "allow_types", StringListField{OUTPOST_REF(files, allow_types), &CheckTypeClass, 0},
     "Type classes accepted (sniffed from the bytes): image, pdf, archive, text, html,\n"
     "executable, other. [] accepts every class not denied."},
    {"files", "deny_types", StringListField{OUTPOST_REF(files, deny_types), &CheckTypeClass, 0},
     "Type classes refused; executables (ELF, PE, Mach-O, #! scripts) by default."},
    {"files", "uploads_per_minute", IntField{OUTPOST_REF(files, uploads_per_minute), 0, 100000},
     "Files one account may upload per minute (a burst of as many, then refilled evenly);\n"
     "more get 429 rate_limited with Retry-After. 0 for no limit."},
    {"backup", "schedule", StringField{OUTPOST_REF(backup, schedule), &CheckDailyTime},
     "Local time of the daily backup, \"HH:MM\" (24-hour clock); \"\" makes none.\n"
     "Needs key_file or passphrase_file."},
    {"backup", "dir", StringField{OUTPOST_REF(backup, dir), &CheckOptionalAbsolutePath},
     "Folder for scheduled archives; \"\" uses <data.dir>/backups. Prefer another disk."},
    {"backup", "keep", IntField{OUTPOST_REF(backup, keep), 1, 1000},
     "How many scheduled archives to keep; older ones are deleted after each success."},
    {"backup", "key_file",
     StringField{OUTPOST_REF(backup, key_file), &CheckOptionalAbsolutePath},
     "Key file made by 'outpost backup keygen' that encrypts scheduled archives."},
    {"backup", "passphrase_file",
     StringField{OUTPOST_REF(backup, passphrase_file), &CheckOptionalAbsolutePath},
     "Instead of key_file: a file whose first line is the passphrase (15 characters or more)."},
    {"retention", "messages_days", IntField{OUTPOST_REF(retention, messages_days), 0, 36500},
     "Messages older than this many days are deleted by the daily purge; 0 keeps them forever."},
    {"retention", "files_days", IntField{OUTPOST_REF(retention, files_days), 0, 36500},
     "Files older than this many days are deleted by the daily purge; 0 keeps them forever."},
    {"realtime", "max_message_kib", IntField{OUTPOST_REF(realtime, max_message_kib), 1, 16384},
     "Largest message a client may send, in KiB (all its frames); larger closes with 1009."},
    {"realtime", "max_frame_kib", IntField{OUTPOST_REF(realtime, max_frame_kib), 1, 16384},
     "Largest frame a client may send, in KiB; refused before anything is allocated for it."},
    {"realtime", "messages_per_second",
     IntField{OUTPOST_REF(realtime, messages_per_second), 1, 10000},
     "Messages (and pings) a connection may send per second on average; more closes it (1008)."},
    {"realtime", "message_burst", IntField{OUTPOST_REF(realtime, message_burst), 1, 100000},
     "How many messages a quiet connection may send at once."},
    {"realtime", "max_connections_per_user",
     IntField{OUTPOST_REF(realtime, max_connections_per_user), 0, 100000},
     "Open WebSockets one account may have (tabs, devices); 0 for no limit."},
    {"realtime", "max_connections_per_ip",
     IntField{OUTPOST_REF(realtime, max_connections_per_ip), 0, 1000000},
     "Open WebSockets from one address (a NAT gateway may carry many users); 0 for no limit."},
    {"realtime", "max_queued_kib", IntField{OUTPOST_REF(realtime, max_queued_kib), 16, 1048576},
     "Outbound bytes one connection may have waiting; a client that falls further behind is\n"
     "closed (4000) with a cursor to resume from."},
    {"realtime", "ping_interval_seconds",
     IntField{OUTPOST_REF(realtime, ping_interval_seconds), 5, 3600},
     "Silence after which the server pings a connection; no pong within 20 s closes it."},
    {"audit", "on_failure", EnumField{OUTPOST_ENUM(audit, on_failure), kAuditOnFailureNames},
     "When an audit record cannot be written: \"refuse\" the action (nothing happens\n"
     "unaudited), or \"continue\" with it and log the lost record."},
    {"audit", "checkpoint_every_records",
     IntField{OUTPOST_REF(audit, checkpoint_every_records), 1, 1000000},
     "Sign a checkpoint of the hash chain after this many new records."},
    {"audit", "checkpoint_every_minutes",
     IntField{OUTPOST_REF(audit, checkpoint_every_minutes), 1, 10080},
     "Sign a checkpoint when this many minutes passed since the last and records are unsigned."},
    {"audit", "max_size_mb", IntField{OUTPOST_REF(audit, max_size_mb), 1, 1048576},
     "Storage set aside for the audit log, in MiB. At 75% of it the server raises an alert\n"
     "(error log line, /metrics, an audit.storage_alert record, 'outpost doctor')."},
    {"siem", "enabled", BoolField{OUTPOST_REF(siem, enabled)},
     "Forward every audit record to the SIEM. Records wait in the audit log while it is down."},
    {"siem", "host", StringField{OUTPOST_REF(siem, host), &CheckSiemHost},
     "IP address of the SIEM's syslog receiver (no DNS names: the binary has no resolver)."},
    {"siem", "port", IntField{OUTPOST_REF(siem, port), 1, 65535},
     "TCP port of the receiver (6514 is syslog over TLS, 601 plain syslog over TCP)."},
    {"siem", "transport", EnumField{OUTPOST_ENUM(siem, transport), kSiemTransportNames},
     "\"tls\" (the SIEM's certificate is verified against ca_file) or \"tcp\" (plain text)."},
    {"siem", "ca_file", StringField{OUTPOST_REF(siem, ca_file), &CheckOptionalAbsolutePath},
     "PEM file with the CA certificate(s) that sign the SIEM's certificate; needed for tls."},
    {"siem", "server_name", StringField{OUTPOST_REF(siem, server_name), &CheckOptionalHostName},
     "DNS name the SIEM's certificate must carry (sent as SNI); \"\" expects host itself."},
    {"siem", "app_name", StringField{OUTPOST_REF(siem, app_name), &CheckAppName},
     "RFC 5424 APP-NAME of every message."},
    {"siem", "facility", IntField{OUTPOST_REF(siem, facility), 0, 23},
     "Syslog facility number (13: log audit; 10: security/authorization; 16..23: local0..7)."},
};

#undef OUTPOST_REF
#undef OUTPOST_ENUM

const TableSpec* FindTable(std::string_view name) {
  for (const TableSpec& t : kTables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const KeySpec* FindKey(std::string_view table, std::string_view name) {
  for (const KeySpec& k : kKeys) {
    if (k.table == table && k.name == name) return &k;
  }
  return nullptr;
}

std::string FullName(std::string_view table, std::string_view name) {
  return std::string(table) + "." + std::string(name);
}

// " (did you mean 'server.listen'?)" for a mistyped `name` in `table` ("" for the top level),
// or "" when nothing is close.
std::string Suggestion(std::string_view table, std::string_view name) {
  if (name.size() > 64) return "";  // no known key is that long; spares a large distance table
  std::string best;
  size_t best_distance = TypoBudget(name) + 1;
  auto consider = [&](size_t distance, std::string candidate) {
    if (distance < best_distance) {
      best_distance = distance;
      best = std::move(candidate);
    }
  };
  if (table.empty()) {
    for (const TableSpec& t : kTables) consider(EditDistance(name, t.name), std::string(t.name));
  } else {
    for (const KeySpec& k : kKeys) {
      if (k.table == table) consider(EditDistance(name, k.name), FullName(k.table, k.name));
    }
  }
  // The right key in the wrong place: "listen" at the top level, "dir" under [server].
  if (best.empty()) {
    for (const KeySpec& k : kKeys) {
      if (k.name == name) consider(0, FullName(k.table, k.name));
    }
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

// ---------------------------------------------------------------------------------------------
// Problems found while loading.

struct Problem {
  toml::source_position where;
  std::string key;
  std::string what;
};

std::string FormatProblem(std::string_view source, const Problem& p) {
  std::string at(source);
  if (p.where.line > 0) {
    at += ":" + std::to_string(p.where.line) + ":" + std::to_string(p.where.column);
  }
  return at + ": " + p.key + ": " + p.what;
}

std::string TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
  }
  return "an unknown type";
}

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// Reads `node`, the value of `spec`, into `config`, adding any problem to `problems`.
void ReadKey(const KeySpec& spec, const toml::node& node, Config& config,
             std::vector<Problem>& problems) {
  const std::string key = FullName(spec.table, spec.name);
  auto fail = [&](const toml::node& at, std::string what, std::string at_key = "") {
    problems.push_back({at.source().begin, at_key.empty() ? key : at_key, std::move(what)});
  };
  auto expected = [&](std::string_view want) {
    fail(node, "expected " + std::string(want) + ", got " + TypeName(node.type()));
  };
  std::visit(Overloaded{
                 [&](const IntField& f) {
                   const auto* v = node.as_integer();
                   if (v == nullptr) return expected("an integer");
                   int64_t x = v->get();
                   if (x < f.min || x > f.max) {
                     return fail(node, "must be between " + std::to_string(f.min) + " and " +
                                           std::to_string(f.max) + ", got " + std::to_string(x));
                   }
                   f.ref(config) = static_cast<int>(x);
                 },
                 [&](const BoolField& f) {
                   const auto* v = node.as_boolean();
                   if (v == nullptr) return expected("a boolean (true or false)");
                   f.ref(config) = v->get();
                 },
                 [&](const StringField& f) {
                   const auto* v = node.as_string();
                   if (v == nullptr) return expected("a string");
                   std::string s = v->get();
                   if (std::string what = f.check(s); !what.empty())
                     return fail(node, std::move(what));
                   f.ref(config) = std::move(s);
                 },
                 [&](const StringListField& f) {
                   const auto* array = node.as_array();
                   if (array == nullptr) return expected("an array of strings");
                   if (array->size() < f.min_items) {
                     return fail(node, "must list at least " + std::to_string(f.min_items) +
                                           (f.min_items == 1 ? " entry" : " entries"));
                   }
                   std::vector<std::string> items;
                   bool ok = true;
                   for (size_t i = 0; i < array->size(); ++i) {
                     const toml::node& item = *array->get(i);
                     std::string item_key = key + "[" + std::to_string(i) + "]";
                     const auto* v = item.as_string();
                     if (v == nullptr) {
                       fail(item, "expected a string, got " + TypeName(item.type()), item_key);
                       ok = false;
                       continue;
                     }
                     std::string s = v->get();
                     if (std::string what = f.check(s); !what.empty()) {
                       fail(item, std::move(what), item_key);
                       ok = false;
                     } else if (std::find(items.begin(), items.end(), s) != items.end()) {
                       fail(item, TomlString(s) + " is listed twice", item_key);
                       ok = false;
                     } else {
                       items.push_back(std::move(s));
                     }
                   }
                   if (ok) f.ref(config) = std::move(items);
                 },
                 [&](const EnumField& f) {
                   const auto* v = node.as_string();
                   if (v == nullptr) return expected("a string");
                   for (size_t i = 0; i < f.names.size(); ++i) {
                     if (f.names[i] == v->get()) return f.set(config, static_cast<int>(i));
                   }
                   std::string allowed;
                   for (std::string_view n : f.names) {
                     allowed += (allowed.empty() ? "" : ", ") + TomlString(n);
                   }
                   fail(node, "must be one of " + allowed + "; got " + TomlString(v->get()));
                 },
                 [&](const ListenField& f) {
                   const auto* v = node.as_string();
                   if (v == nullptr) return expected("a string (HOST:PORT)");
                   Result<ListenAddress> addr = ParseListenAddress(v->get());
                   if (!addr.ok()) return fail(node, addr.status().message());
                   f.ref(config) = std::move(addr).value();
                 },
                 [&](const OptionalListenField& f) {
                   const auto* v = node.as_string();
                   if (v == nullptr) return expected("a string (HOST:PORT, or \"\" for off)");
                   if (v->get().empty()) return void(f.ref(config) = std::nullopt);
                   Result<ListenAddress> addr = ParseListenAddress(v->get());
                   if (!addr.ok()) return fail(node, addr.status().message());
                   f.ref(config) = std::move(addr).value();
                 },
             },
             spec.field);
}

// Rules between keys, checked once every key is read. Each is reported at the key that breaks
// it, which the file always sets since the defaults satisfy every rule. A rule is skipped when
// one of its keys already failed its own check: that key holds its default, and blaming the
// other key would send the operator after a problem that is not there.
void CheckRelations(const Config& c, const std::map<std::string, toml::source_position>& seen,
                    const std::set<std::string>& failed, std::vector<Problem>& problems) {
  auto any_failed = [&](std::initializer_list<std::string_view> keys) {
    return std::any_of(keys.begin(), keys.end(),
                       [&](std::string_view k) { return failed.count(std::string(k)) > 0; });
  };
  auto report = [&](std::string_view key, std::string what) {
    auto it = seen.find(std::string(key));
    toml::source_position where = it == seen.end() ? toml::source_position{} : it->second;
    problems.push_back({where, std::string(key), std::move(what)});
  };

  const AuthConfig& auth = c.auth;
  if (auth.password_max_length < auth.password_min_length &&
      !any_failed({"auth.password_min_length", "auth.password_max_length"})) {
    report("auth.password_max_length", "must be at least auth.password_min_length (" +
                                           std::to_string(auth.password_min_length) + "), got " +
                                           std::to_string(auth.password_max_length));
  }
  if (auth.password_profile == PasswordProfile::kStig && auth.password_max_age_days > 0 &&
      auth.password_min_age_days >= auth.password_max_age_days &&
      !any_failed({"auth.password_min_age_days", "auth.password_max_age_days"})) {
    if (seen.count("auth.password_min_age_days") > 0) {
      report("auth.password_min_age_days",
             "must be below auth.password_max_age_days (" +
                 std::to_string(auth.password_max_age_days) + "), got " +
                 std::to_string(auth.password_min_age_days));
    } else {
      report("auth.password_max_age_days",
             "must be above auth.password_min_age_days (" +
                 std::to_string(auth.password_min_age_days) + "), got " +
                 std::to_string(auth.password_max_age_days));
    }
  }
  if (c.tls.cert_file.empty() != c.tls.key_file.empty() &&
      !any_failed({"tls.cert_file", "tls.key_file"})) {
    std::string_view set = c.tls.cert_file.empty() ? "tls.key_file" : "tls.cert_file";
    std::string_view unset = c.tls.cert_file.empty() ? "tls.cert_file" : "tls.key_file";
    report(set, "must be set together with " + std::string(unset) + ", which is empty");
  }
  if (c.tls.client_auth != ClientAuth::kOff && c.tls.client_ca_file.empty() &&
      !any_failed({"tls.client_auth", "tls.client_ca_file"})) {
    report("tls.client_auth", "needs tls.client_ca_file, the CA bundle that issues the cards");
  }
  if (c.auth.password_login != PasswordLogin::kAll && c.tls.client_auth == ClientAuth::kOff &&
      !any_failed({"auth.password_login", "tls.client_auth"})) {
    report("auth.password_login",
           "needs tls.client_auth \"optional\" or \"required\": otherwise nobody could sign in");
  }
  const BackupConfig& b = c.backup;
  if (!any_failed({"backup.schedule", "backup.key_file", "backup.passphrase_file"})) {
    if (!b.key_file.empty() && !b.passphrase_file.empty()) {
      report("backup.passphrase_file", "must not be set together with backup.key_file");
    } else if (!b.schedule.empty() && b.key_file.empty() && b.passphrase_file.empty()) {
      report("backup.schedule",
             "needs backup.key_file or backup.passphrase_file: backups are always encrypted");
    }
  }
  if (c.site.require_consent && c.site.login_notice.empty() &&
      !any_failed({"site.require_consent", "site.login_notice"})) {
    report("site.require_consent", "needs site.login_notice: the text users consent to");
  }
  const SiemConfig& siem = c.siem;
  if (siem.enabled && siem.host.empty() && !any_failed({"siem.enabled", "siem.host"})) {
    report("siem.enabled", "needs siem.host: the address of the SIEM's syslog receiver");
  } else if (siem.enabled && siem.transport == SiemTransport::kTls && siem.ca_file.empty() &&
             !any_failed({"siem.enabled", "siem.transport", "siem.ca_file"})) {
    report("siem.enabled",
           "with transport \"tls\" needs siem.ca_file to verify the SIEM's certificate "
           "(or use transport \"tcp\")");
  }
  const auto& redirect = c.server.http_redirect_listen;
  if (redirect && !any_failed({"server.listen", "server.http_redirect_listen"})) {
    const ListenAddress& https = c.server.listen;
    // A wildcard of either family may claim the other's port on Linux (dual-stack sockets).
    bool overlap = redirect->host == https.host || redirect->IsWildcard() || https.IsWildcard();
    if (redirect->port == https.port && overlap) {
      report("server.http_redirect_listen", "must not use the port of server.listen (" +
                                                https.ToString() + "), got " +
                                                redirect->ToString());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering.

std::string RenderValue(const KeySpec& spec, const Config& config) {
  Config copy = config;  // the accessors take a mutable Config; a copy keeps `config` const
  return std::visit(
      Overloaded{
          [&](const IntField& f) { return std::to_string(f.ref(copy)); },
          [&](const BoolField& f) { return std::string(f.ref(copy) ? "true" : "false"); },
          [&](const StringField& f) { return TomlString(f.ref(copy)); },
          [&](const StringListField& f) {
            std::string out = "[";
            for (const std::string& s : f.ref(copy)) {
              out += (out.size() > 1 ? ", " : "") + TomlString(s);
            }
            return out + "]";
          },
          [&](const EnumField& f) {
            int i = f.get(copy);
            return TomlString(i >= 0 && static_cast<size_t>(i) < f.names.size() ? f.names[i] : "?");
          },
          [&](const ListenField& f) { return TomlString(f.ref(copy).ToString()); },
          [&](const OptionalListenField& f) {
            const auto& v = f.ref(copy);
            return TomlString(v ? v->ToString() : "");
          },
      },
      spec.field);
}

// "Range: 1..1024." or "One of: ..." for DefaultToml(); "" when the help says it all.
std::string Constraint(const KeySpec& spec) {
  if (const auto* f = std::get_if<IntField>(&spec.field)) {
    return "Range: " + std::to_string(f->min) + ".." + std::to_string(f->max) + ".";
  }
  if (const auto* f = std::get_if<EnumField>(&spec.field)) {
    std::string out = "One of:";
    for (std::string_view n : f->names) out += " " + std::string(n);
    return out + ".";
  }
  return "";
}

void AppendComment(std::string& out, std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out += "# ";
    out += text.substr(0, nl);
    out += '\n';
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

Status ReadWholeFile(const std::string& path, std::string& out) {
  if (path.find('\0') != std::string::npos) {
    return Status::InvalidArgument("config path contains a NUL byte");
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IoError(path + ": " + std::error_code(err, std::generic_category()).message());
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Status::IoError(path + ": " + std::error_code(errno, std::generic_category()).message());
  }
  if (S_ISDIR(st.st_mode)) return Status::IoError(path + ": is a directory");
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Status::IoError(path + ": " +
                             std::error_code(errno, std::generic_category()).message());
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxFileBytes) {
      return Status::InvalidArgument(path + ": larger than 1 MiB; not a config file?");
    }
  }
  return Status::Ok();
}

Result<Config> Load(std::string_view text, std::string_view source) {
  toml::parse_result parsed = toml::parse(text, source);
  if (!parsed) {
    const toml::parse_error& error = parsed.error();
    Problem p{error.source().begin, "TOML syntax error", std::string(error.description())};
    return Status::InvalidArgument(FormatProblem(source, p));
  }
  Config config;
  std::vector<Problem> problems;
  std::map<std::string, toml::source_position> seen;
  std::set<std::string> failed;
  for (auto&& [table_key, table_node] : parsed.table()) {
    const toml::source_position key_at = table_key.source().begin;
    const std::string table_name = KeyText(table_key.str());
    const TableSpec* table = FindTable(table_key.str());
    if (table == nullptr) {
      std::string kind = table_node.is_table() ? "unknown table '" : "unknown key '";
      problems.push_back(
          {key_at, table_name, kind + table_name + "'" + Suggestion("", table_key.str())});
      continue;
    }
    const toml::table* entries = table_node.as_table();
    if (entries == nullptr) {
      problems.push_back(
          {key_at, table_name, "expected a table, got " + TypeName(table_node.type())});
      continue;
    }
    for (auto&& [key, node] : *entries) {
      const KeySpec* spec = FindKey(table->name, key.str());
      if (spec == nullptr) {
        std::string full = table_name + "." + KeyText(key.str());
        problems.push_back({key.source().begin, full,
                            "unknown key '" + full + "'" + Suggestion(table->name, key.str())});
        continue;
      }
      std::string full = FullName(spec->table, spec->name);
      seen[full] = node.source().begin;
      size_t before = problems.size();
      ReadKey(*spec, node, config, problems);
      if (problems.size() != before) failed.insert(std::move(full));
    }
  }
  CheckRelations(config, seen, failed, problems);
  if (problems.empty()) return config;

  std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
    return a.where.line != b.where.line ? a.where.line < b.where.line
                                        : a.where.column < b.where.column;
  });
  std::string message;
  for (const Problem& p : problems) {
    if (!message.empty()) message += '\n';
    message += FormatProblem(source, p);
  }
  return Status::InvalidArgument(std::move(message));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string_view Argon2OpsName(Argon2Ops ops) { return kArgon2Names[static_cast<int>(ops)]; }
std::string_view PasswordProfileName(PasswordProfile profile) {
  return kPasswordProfileNames[static_cast<int>(profile)];
}
std::string_view BannerColorName(BannerColor color) {
  return kBannerColorNames[static_cast<int>(color)];
}
std::string_view LogLevelName(LogLevel level) { return kLogLevelNames[static_cast<int>(level)]; }
std::string_view Require2faName(Require2fa value) {
  return kRequire2faNames[static_cast<int>(value)];
}
std::string_view AuditOnFailureName(AuditOnFailure value) {
  return kAuditOnFailureNames[static_cast<int>(value)];
}
std::string_view SiemTransportName(SiemTransport value) {
  return kSiemTransportNames[static_cast<int>(value)];
}

Config Defaults() { return Config{}; }

Result<Config> LoadString(std::string_view toml, std::string_view source_name) {
  // toml++ reports failures by value here; only allocation failure could still throw.
  try {
    return Load(toml, source_name);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(std::string(source_name) + ": out of memory");
  }
}

Result<Config> LoadFile(const std::string& path) {
  std::string text;
  OUTPOST_RETURN_IF_ERROR(ReadWholeFile(path, text));
  return LoadString(text, path);
}

std::string Describe(const Config& config) {
  std::string out = "# Effective Outpost configuration.\n";
  for (const TableSpec& table : kTables) {
    out += "\n[" + std::string(table.name) + "]\n";
    for (const KeySpec& key : kKeys) {
      if (key.table != table.name) continue;
      out += std::string(key.name) + " = " + RenderValue(key, config);
      if (key.table == "tls" && key.name == "cert_file" && config.tls.cert_file.empty()) {
        out += "  # uses " + TomlString(CertFile(config));
      } else if (key.table == "tls" && key.name == "key_file" && config.tls.key_file.empty()) {
        out += "  # uses " + TomlString(KeyFile(config));
      }
      out += '\n';
    }
  }
  return out;
}

std::string DefaultToml() {
  std::string out =
      "# Outpost configuration (/etc/outpost/outpost.toml).\n"
      "#\n"
      "# Every key is optional and shown commented out with its built-in default: to change a\n"
      "# setting, remove the '#' in front of the key and edit the value. Unknown keys are\n"
      "# refused. Check a file with:  outpost config check --config /etc/outpost/outpost.toml\n"
      "# docs/configuration.md describes every key and why its default was chosen.\n";
  const Config defaults = Defaults();
  for (const TableSpec& table : kTables) {
    out += "\n[" + std::string(table.name) + "]\n";
    AppendComment(out, table.help);
    for (const KeySpec& key : kKeys) {
      if (key.table != table.name) continue;
      out += '\n';
      AppendComment(out, key.help);
      if (std::string c = Constraint(key); !c.empty()) AppendComment(out, c);
      out += "#" + std::string(key.name) + " = " + RenderValue(key, defaults) + "\n";
    }
  }
  return out;
}

std::vector<std::string> KnownKeys() {
  std::vector<std::string> keys;
  for (const KeySpec& key : kKeys) keys.push_back(FullName(key.table, key.name));
  return keys;
}

std::string CertFile(const Config& config) {
  return config.tls.cert_file.empty() ? config.data.dir + "/tls/server.pem" : config.tls.cert_file;
}

std::string BackupDir(const Config& config) {
  return config.backup.dir.empty() ? config.data.dir + "/backups" : config.backup.dir;
}

Result<int> ParseDailyTime(std::string_view text) {
  if (text.empty()) return -1;
  auto digit = [&](size_t i) { return text[i] >= '0' && text[i] <= '9'; };
  if (text.size() != 5 || text[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4)) {
    return Status::InvalidArgument("must be a time of day \"HH:MM\" (24-hour clock) or \"\"");
  }
  int hours = (text[0] - '0') * 10 + (text[1] - '0');
  int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (hours > 23 || minutes > 59) {
    return Status::InvalidArgument("must be a time of day from \"00:00\" to \"23:59\"");
  }
  return hours * 60 + minutes;
}

std::string KeyFile(const Config& config) {
  return config.tls.key_file.empty() ? config.data.dir + "/tls/server.key" : config.tls.key_file;
}

}  // namespace outpost::config
