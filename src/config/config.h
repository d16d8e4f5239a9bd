// The appliance configuration: one TOML file (/etc/outpost/outpost.toml), every key optional.
// Loading checks every key against a fixed table of known keys, types and ranges and reports
// all problems at once as "<source>:<line>:<column>: <key>: <what>", so that an operator can
// fix a file in one pass. docs/configuration.md documents each key.
#ifndef OUTPOST_CONFIG_CONFIG_H_
#define OUTPOST_CONFIG_CONFIG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/listen_address.h"
#include "util/status.h"

namespace outpost::config {

// Read by `outpost serve` and friends when --config is not given and this file exists.
inline constexpr std::string_view kDefaultConfigPath = "/etc/outpost/outpost.toml";

// libsodium crypto_pwhash presets (OPSLIMIT_/MEMLIMIT_INTERACTIVE, _MODERATE, _SENSITIVE).
enum class Argon2Ops { kInteractive, kModerate, kSensitive };
// DoD classification banner colors.
enum class BannerColor { kGreen, kBlue, kRed, kOrange, kYellow, kPurple };
enum class LogLevel { kDebug, kInfo, kWarn, kError };
// [auth] password_profile: NIST SP 800-63B-4 or the DoD STIG rules.
enum class PasswordProfile { kNist, kStig };
std::string_view PasswordProfileName(PasswordProfile profile);
// Smart-card login (docs/security.md, "Smart-card login (CAC/PIV)").
enum class ClientAuth { kOff, kOptional, kRequired };     // tls.client_auth
enum class CrlStale { kRefuse, kAccept };                 // tls.crl_stale
enum class CertMapBy { kUpn, kEmail, kSubject };          // tls.map_by
enum class PasswordLogin { kAll, kUnprivileged, kNone };  // auth.password_login

// The names used in the file ("moderate", "green", "info"). Thread-safe; static storage.
std::string_view Argon2OpsName(Argon2Ops ops);
std::string_view BannerColorName(BannerColor color);
std::string_view LogLevelName(LogLevel level);

// Member initializers are the built-in defaults; a loaded Config satisfies every range and
// rule documented in docs/configuration.md. All structs are plain values: thread-compatible.
struct ServerConfig {
  ListenAddress listen{"127.0.0.1", 8443, false};
  // Names and IP literals for the server certificate and the Host/Origin checks. Never empty,
  // no duplicates; DNS names are stored in lower case.
  std::vector<std::string> host_names{"localhost"};
  // Plain-HTTP listener that only redirects to HTTPS; nullopt when off ("" in the file).
  std::optional<ListenAddress> http_redirect_listen;
  int worker_threads = 16;             // 1..1024
  int max_body_bytes = 1048576;        // 1024..1073741824
  int max_header_bytes = 8192;         // 1024..65536
  int read_timeout_seconds = 10;       // 1..300
  int write_timeout_seconds = 10;      // 1..300
  int keep_alive_timeout_seconds = 5;  // 1..300
  int keep_alive_max_requests = 100;   // 1..100000
  int shutdown_grace_seconds = 10;     // 0..300
  bool operator==(const ServerConfig&) const = default;
};

struct DataConfig {
  std::string dir = "/var/lib/outpost";  // absolute in the file; the CLI's --data overrides
  bool operator==(const DataConfig&) const = default;
};

struct TlsConfig {
  // Both empty (the generated <data.dir>/tls/server.pem and server.key) or both absolute paths.
  std::string cert_file;
  std::string key_file;
  std::string min_version = "1.2";  // only "1.2": mbedTLS 2.28 has no TLS 1.3
  // Client certificates (smart cards). client_ca_file is required unless client_auth is off;
  // the files are read and checked by `outpost serve` and `outpost config check`.
  ClientAuth client_auth = ClientAuth::kOff;
  std::string client_ca_file;          // absolute or ""
  std::vector<std::string> crl_files;  // absolute paths
  CrlStale crl_stale = CrlStale::kRefuse;
  CertMapBy map_by = CertMapBy::kUpn;
  bool operator==(const TlsConfig&) const = default;
};

struct SessionConfig {
  int idle_timeout_minutes = 15;               // 1..1440
  int admin_idle_timeout_minutes = 10;         // 1..1440, for privileged roles
  int absolute_timeout_hours = 12;             // 1..720
  std::string cookie_name = "__Host-outpost";  // "__Host-" + an RFC 6265 token
  bool operator==(const SessionConfig&) const = default;
};

// Who must sign in with a second factor ([auth] require_2fa).
enum class Require2fa { kNone, kPrivileged, kAll };
std::string_view Require2faName(Require2fa value);

struct AuthConfig {
  int password_min_length = 15;   // 8..128
  int password_max_length = 128;  // password_min_length..1024
  Argon2Ops argon2_ops = Argon2Ops::kInteractive;
  int login_attempts_per_minute_per_ip = 20;  // 1..10000
  // Password policy profile (docs/security.md, "Passwords and lockout"). The three keys after
  // it apply under kStig only.
  PasswordProfile password_profile = PasswordProfile::kNist;
  int password_max_age_days = 60;  // 0..3650; 0: never expire
  int password_min_age_days = 1;   // 0..365; below password_max_age_days
  int password_history = 5;        // 0..24 previous passwords refused
  // Lockout: lockout_attempts failures within lockout_window_minutes lock the account for
  // lockout_minutes (0: until an administrator unlocks it).
  int lockout_attempts = 3;          // 0..100; 0: no lockout
  int lockout_window_minutes = 15;   // 1..1440
  int lockout_minutes = 15;          // 0..525600
  int max_failures_per_hour = 100;   // 1..100 failures evaluated per account an hour
  // Password spraying: distinct user names tried from one address within the window.
  int login_user_names_per_ip = 10;          // 0..10000; 0: no limit
  int login_user_names_window_minutes = 15;  // 1..1440
  Require2fa require_2fa = Require2fa::kNone;
  // Who may sign in with a password; anything but kAll needs tls.client_auth.
  PasswordLogin password_login = PasswordLogin::kAll;
  bool operator==(const AuthConfig&) const = default;
};

struct SiteConfig {
  std::string name = "Outpost";  // 1..100 bytes, no control characters
  std::string banner_text;       // 0..200 bytes, no control characters; empty: no banner
  BannerColor banner_color = BannerColor::kGreen;
  std::string login_notice;  // 0..20000 bytes; newlines and tabs allowed; empty: none
  bool require_consent = false;  // sign-in must carry "consent": true (needs login_notice)
  bool operator==(const SiteConfig&) const = default;
};

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  bool requests = true;
  bool operator==(const LogConfig&) const = default;
};

struct DatabaseConfig {
  int busy_timeout_ms = 5000;           // 1..600000
  int wal_autocheckpoint_pages = 1000;  // 1..1000000
  bool operator==(const DatabaseConfig&) const = default;
};

struct ChatConfig {
  int max_message_length = 4000;     // 1..100000 characters
  int max_group_members = 8;         // 3..50 people in a group DM, the creator included
  std::string default_room = "general";  // a channel name every new user joins; "" for none
  int posts_per_minute = 120;  // 0..100000 REST posts per user (token bucket); 0: unlimited
  bool operator==(const ChatConfig&) const = default;
};

struct FilesConfig {
  int max_file_mb = 100;        // 1..102400: the largest upload, in MiB
  int user_quota_mb = 2048;     // 0..10485760: a user's uploads in all, in MiB; 0 for no quota
  int room_quota_mb = 10240;    // 0..10485760: one room's files, in MiB; 0 for no quota
  // Type classes: image, pdf, archive, text, html, executable, other.
  std::vector<std::string> allow_types;  // empty: every class not denied
  std::vector<std::string> deny_types = {"executable"};
  int uploads_per_minute = 20;  // 0..100000 uploads per user (token bucket); 0: unlimited
  bool operator==(const FilesConfig&) const = default;
};

// Backups the server makes by itself (docs/operations.md, "Scheduled backups"). The archive is
// the one `outpost backup create` writes, encrypted with exactly one of key_file (made by
// `outpost backup keygen`) or passphrase_file (first line, at least 15 characters).
struct BackupConfig {
  std::string schedule;         // "HH:MM" local time, once a day; "" for no scheduled backups
  std::string dir;              // absolute; "" for <data.dir>/backups
  int keep = 7;                 // 1..1000 newest scheduled archives kept; older ones deleted
  std::string key_file;         // absolute or ""
  std::string passphrase_file;  // absolute or ""
  bool operator==(const BackupConfig&) const = default;
};

// How long chat content is kept (docs/operations.md, "Retention"); rooms may override it.
struct RetentionConfig {
  int messages_days = 0;  // 0..36500; 0 keeps messages forever
  int files_days = 0;     // 0..36500; 0 keeps files forever
  bool operator==(const RetentionConfig&) const = default;
};

// WebSocket limits (docs/api.md, "WebSocket").
struct RealtimeConfig {
  int max_message_kib = 256;           // 1..16384: one client message, all its frames
  int max_frame_kib = 64;              // 1..16384: one client frame
  int messages_per_second = 20;        // 1..10000 per connection, pings included
  int message_burst = 40;              // 1..100000 a quiet connection may send at once
  int max_connections_per_user = 16;   // 0..100000; 0: unlimited
  int max_connections_per_ip = 2000;   // 0..1000000; 0: unlimited
  int max_queued_kib = 1024;           // 16..1048576 outbound bytes queued per connection
  int ping_interval_seconds = 30;      // 5..3600 of silence before a ping
  bool operator==(const RealtimeConfig&) const = default;
};

// The audit log (docs/audit.md): what happens when a record cannot be written, how often the
// chain is signed, and the storage size whose 75% raises the alert.
enum class AuditOnFailure { kRefuse, kContinue };
std::string_view AuditOnFailureName(AuditOnFailure value);
struct AuditConfig {
  AuditOnFailure on_failure = AuditOnFailure::kRefuse;
  int checkpoint_every_records = 1000;  // 1..1000000
  int checkpoint_every_minutes = 60;    // 1..10080
  int max_size_mb = 1024;               // 1..1048576: the audit tables' budget, in MiB
  bool operator==(const AuditConfig&) const = default;
};

// Forwarding every audit record to the site's SIEM as RFC 5424 syslog over TCP or TLS
// (docs/audit.md, "Forwarding to a SIEM").
enum class SiemTransport { kTcp, kTls };
std::string_view SiemTransportName(SiemTransport value);
struct SiemConfig {
  bool enabled = false;
  std::string host;  // an IP address (the static binary has no resolver); needed when enabled
  int port = 6514;   // 1..65535 (6514: syslog over TLS, RFC 5425)
  SiemTransport transport = SiemTransport::kTls;
  std::string ca_file;      // absolute PEM file of the CA(s) that sign the SIEM's certificate
  std::string server_name;  // name the SIEM's certificate must carry; "" uses host
  std::string app_name = "outpost";  // RFC 5424 APP-NAME: 1..48 printable ASCII, no spaces
  int facility = 13;                 // 0..23 (13: log audit)
  bool operator==(const SiemConfig&) const = default;
};

struct Config {
  ServerConfig server;
  DataConfig data;
  TlsConfig tls;
  SessionConfig session;
  AuthConfig auth;
  SiteConfig site;
  LogConfig log;
  DatabaseConfig database;
  ChatConfig chat;
  FilesConfig files;
  BackupConfig backup;
  RetentionConfig retention;
  RealtimeConfig realtime;
  AuditConfig audit;
  SiemConfig siem;
  bool operator==(const Config&) const = default;
};

// The built-in defaults: what running with no file at all uses. Thread-safe.
Config Defaults();

// Reads and validates the file at `path`; error messages name `path` as the source.
// Missing file: NotFound "<path>: no such file". Unreadable (permissions, a directory):
// IoError. Over 1 MiB: InvalidArgument. Invalid content: see LoadString. Thread-safe.
Result<Config> LoadFile(const std::string& path);

// Parses and validates `toml`, starting from Defaults(). On any problem returns
// InvalidArgument whose message holds every problem found, one per line, in file order:
// "<source_name>:<line>:<column>: <key>: <what>". A TOML syntax error stops parsing, so it is
// reported alone. Never throws (toml++ runs without exceptions here). Thread-safe.
Result<Config> LoadString(std::string_view toml, std::string_view source_name);

// The effective `config` as a TOML document (for `outpost config check --print`). LoadString
// reads it back to an equal Config whenever the values are ones a file may hold (a relative
// --data override is not). Thread-safe.
std::string Describe(const Config& config);

// The commented default configuration shipped as appliance/outpost.toml (a test keeps the two
// identical): every key, commented out as "#key = <default>", under its [table]. Thread-safe.
std::string DefaultToml();

// Every known key as "table.key", in documentation order. Thread-safe.
std::vector<std::string> KnownKeys();

// tls.cert_file / tls.key_file, or the generated files under data.dir when they are empty.
std::string CertFile(const Config& config);
std::string KeyFile(const Config& config);

// backup.dir, or <data.dir>/backups when it is empty.
std::string BackupDir(const Config& config);

// Parses backup.schedule ("HH:MM", 00:00..23:59) into minutes after local midnight; -1 for ""
// (off). InvalidArgument naming the expected form otherwise. Thread-safe.
Result<int> ParseDailyTime(std::string_view text);

}  // namespace outpost::config

#endif  // OUTPOST_CONFIG_CONFIG_H_
