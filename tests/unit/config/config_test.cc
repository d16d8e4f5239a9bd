#include "config/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#ifndef OUTPOST_SOURCE_DIR
#define OUTPOST_SOURCE_DIR "."  // the build defines it as the repository root
#endif

namespace outpost::config {
namespace {

// The message of the InvalidArgument that loading `toml` must produce.
std::string ErrorOf(std::string_view toml) {
  Result<Config> r = LoadString(toml, "t.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  return r.status().message();
}

Config LoadOk(std::string_view toml) {
  Result<Config> r = LoadString(toml, "t.toml");
  INFO(toml);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Turns "#key = value" lines (the commented-out settings) into "key = value"; prose comments
// ("# ...") stay comments.
std::string Uncomment(const std::string& text) {
  std::string out;
  for (const std::string& line : Lines(text)) {
    bool setting = line.size() > 1 && line[0] == '#' && line[1] >= 'a' && line[1] <= 'z';
    out += (setting ? line.substr(1) : line) + "\n";
  }
  return out;
}

// "table.key" for every "key = ..." line, under the [table] it follows.
std::vector<std::string> KeysSet(const std::string& text) {
  std::vector<std::string> keys;
  std::string table;
  for (const std::string& line : Lines(text)) {
    if (line.starts_with('[')) {
      table = line.substr(1, line.find(']') - 1);
    } else if (!line.empty() && line[0] != '#' && line.find(" = ") != std::string::npos) {
      keys.push_back(table + "." + line.substr(0, line.find(" = ")));
    }
  }
  return keys;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh file under the temporary directory, removed by the destructor.
struct TempFile {
  std::string path;
  explicit TempFile(std::string_view content) {
    char name[] = "/tmp/outpost-config-test-XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    close(fd);
    path = name;
  }
  ~TempFile() { unlink(path.c_str()); }
};

TEST_CASE("an empty file gives the documented defaults", "[unit][config]") {
  Config c = LoadOk("");
  CHECK(c == Defaults());
  CHECK(c.server.listen.ToString() == "127.0.0.1:8443");
  CHECK(c.server.host_names == std::vector<std::string>{"localhost"});
  CHECK_FALSE(c.server.http_redirect_listen.has_value());
  CHECK(c.server.worker_threads == 16);
  CHECK(c.server.max_body_bytes == 1048576);
  CHECK(c.server.max_header_bytes == 8192);
  CHECK(c.server.read_timeout_seconds == 10);
  CHECK(c.server.write_timeout_seconds == 10);
  CHECK(c.server.keep_alive_timeout_seconds == 5);
  CHECK(c.server.keep_alive_max_requests == 100);
  CHECK(c.server.shutdown_grace_seconds == 10);
  CHECK(c.data.dir == "/var/lib/outpost");
  CHECK(c.tls.cert_file.empty());
  CHECK(c.tls.key_file.empty());
  CHECK(c.tls.min_version == "1.2");
  CHECK(c.session.idle_timeout_minutes == 15);
  CHECK(c.session.absolute_timeout_hours == 12);
  CHECK(c.session.cookie_name == "__Host-outpost");
  CHECK(c.auth.password_min_length == 15);
  CHECK(c.auth.password_max_length == 128);
  CHECK(c.auth.argon2_ops == Argon2Ops::kInteractive);
  CHECK(c.auth.login_attempts_per_minute_per_ip == 20);
  CHECK(c.auth.password_profile == PasswordProfile::kNist);
  CHECK(c.auth.password_max_age_days == 60);
  CHECK(c.auth.password_min_age_days == 1);
  CHECK(c.auth.password_history == 5);
  CHECK(c.auth.lockout_attempts == 3);
  CHECK(c.auth.lockout_window_minutes == 15);
  CHECK(c.auth.lockout_minutes == 15);
  CHECK(c.auth.max_failures_per_hour == 100);
  CHECK(c.auth.login_user_names_per_ip == 10);
  CHECK(c.auth.login_user_names_window_minutes == 15);
  CHECK(c.site.name == "Outpost");
  CHECK(c.site.banner_text.empty());
  CHECK(c.site.banner_color == BannerColor::kGreen);
  CHECK(c.site.login_notice.empty());
  CHECK(c.log.level == LogLevel::kInfo);
  CHECK(c.log.requests);
  CHECK(c.database.busy_timeout_ms == 5000);
  CHECK(c.database.wal_autocheckpoint_pages == 1000);
  CHECK(c.chat.max_message_length == 4000);
  CHECK(c.chat.max_group_members == 8);
  CHECK(c.chat.default_room == "general");
  CHECK(CertFile(c) == "/var/lib/outpost/tls/server.pem");
  CHECK(KeyFile(c) == "/var/lib/outpost/tls/server.key");
}

TEST_CASE("every key is read from the file", "[unit][config]") {
  struct Case {
    const char* toml;
    std::function<bool(const Config&)> check;
  };
  const std::vector<Case> cases = {
      {"[server]\nlisten = \"[::]:443\"",
       [](const Config& c) {
         return c.server.listen == ListenAddress{"::", 443, true};
       }},
      {"[server]\nhost_names = [\"chat.example.mil\", \"10.1.2.3\", \"fe80::1\"]",
       [](const Config& c) {
         return c.server.host_names ==
                std::vector<std::string>{"chat.example.mil", "10.1.2.3", "fe80::1"};
       }},
      {"[server]\nhttp_redirect_listen = \"0.0.0.0:80\"",
       [](const Config& c) {
         return c.server.http_redirect_listen == ListenAddress{"0.0.0.0", 80, false};
       }},
      {"[server]\nworker_threads = 3",
       [](const Config& c) { return c.server.worker_threads == 3; }},
      {"[server]\nmax_body_bytes = 1073741824",
       [](const Config& c) { return c.server.max_body_bytes == 1073741824; }},
      {"[server]\nmax_header_bytes = 1024",
       [](const Config& c) { return c.server.max_header_bytes == 1024; }},
      {"[server]\nread_timeout_seconds = 31",
       [](const Config& c) { return c.server.read_timeout_seconds == 31; }},
      {"[server]\nwrite_timeout_seconds = 32",
       [](const Config& c) { return c.server.write_timeout_seconds == 32; }},
      {"[server]\nkeep_alive_timeout_seconds = 33",
       [](const Config& c) { return c.server.keep_alive_timeout_seconds == 33; }},
      {"[server]\nkeep_alive_max_requests = 34",
       [](const Config& c) { return c.server.keep_alive_max_requests == 34; }},
      {"[server]\nshutdown_grace_seconds = 0",
       [](const Config& c) { return c.server.shutdown_grace_seconds == 0; }},
      {"[data]\ndir = \"/srv/outpost\"",
       [](const Config& c) { return c.data.dir == "/srv/outpost"; }},
      {"[tls]\ncert_file = \"/etc/outpost/c.pem\"\nkey_file = \"/etc/outpost/k.pem\"",
       [](const Config& c) {
         return c.tls.cert_file == "/etc/outpost/c.pem" && CertFile(c) == c.tls.cert_file &&
                c.tls.key_file == "/etc/outpost/k.pem" && KeyFile(c) == c.tls.key_file;
       }},
      {"[tls]\nmin_version = \"1.2\"\n[session]\nidle_timeout_minutes = 1440",
       [](const Config& c) {
         return c.tls.min_version == "1.2" && c.session.idle_timeout_minutes == 1440;
       }},
      {"[tls]\nclient_auth = \"required\"\nclient_ca_file = \"/etc/outpost/cas.pem\"\n"
       "crl_files = [\"/etc/outpost/a.crl\", \"/etc/outpost/b.crl\"]\ncrl_stale = \"accept\"\n"
       "map_by = \"email\"\n[auth]\npassword_login = \"unprivileged\"",
       [](const Config& c) {
         return c.tls.client_auth == ClientAuth::kRequired &&
                c.tls.client_ca_file == "/etc/outpost/cas.pem" &&
                c.tls.crl_files ==
                    std::vector<std::string>{"/etc/outpost/a.crl", "/etc/outpost/b.crl"} &&
                c.tls.crl_stale == CrlStale::kAccept && c.tls.map_by == CertMapBy::kEmail &&
                c.auth.password_login == PasswordLogin::kUnprivileged;
       }},
      {"[session]\nabsolute_timeout_hours = 720",
       [](const Config& c) { return c.session.absolute_timeout_hours == 720; }},
      {"[session]\ncookie_name = \"__Host-chat\"",
       [](const Config& c) { return c.session.cookie_name == "__Host-chat"; }},
      {"[auth]\npassword_min_length = 8",
       [](const Config& c) { return c.auth.password_min_length == 8; }},
      {"[auth]\npassword_max_length = 1024",
       [](const Config& c) { return c.auth.password_max_length == 1024; }},
      {"[auth]\nargon2_ops = \"sensitive\"",
       [](const Config& c) { return c.auth.argon2_ops == Argon2Ops::kSensitive; }},
      {"[auth]\nlogin_attempts_per_minute_per_ip = 10000",
       [](const Config& c) { return c.auth.login_attempts_per_minute_per_ip == 10000; }},
      {"[auth]\npassword_profile = \"stig\"",
       [](const Config& c) { return c.auth.password_profile == PasswordProfile::kStig; }},
      {"[auth]\npassword_max_age_days = 90",
       [](const Config& c) { return c.auth.password_max_age_days == 90; }},
      {"[auth]\npassword_min_age_days = 0",
       [](const Config& c) { return c.auth.password_min_age_days == 0; }},
      {"[auth]\npassword_history = 24",
       [](const Config& c) { return c.auth.password_history == 24; }},
      {"[auth]\nlockout_attempts = 0",
       [](const Config& c) { return c.auth.lockout_attempts == 0; }},
      {"[auth]\nlockout_window_minutes = 1440",
       [](const Config& c) { return c.auth.lockout_window_minutes == 1440; }},
      {"[auth]\nlockout_minutes = 0",
       [](const Config& c) { return c.auth.lockout_minutes == 0; }},
      {"[auth]\nmax_failures_per_hour = 1",
       [](const Config& c) { return c.auth.max_failures_per_hour == 1; }},
      {"[auth]\nlogin_user_names_per_ip = 0",
       [](const Config& c) { return c.auth.login_user_names_per_ip == 0; }},
      {"[auth]\nlogin_user_names_window_minutes = 60",
       [](const Config& c) { return c.auth.login_user_names_window_minutes == 60; }},
      {"[auth]\nrequire_2fa = \"privileged\"",
       [](const Config& c) { return c.auth.require_2fa == Require2fa::kPrivileged; }},
      {"[session]\nadmin_idle_timeout_minutes = 5",
       [](const Config& c) { return c.session.admin_idle_timeout_minutes == 5; }},
      {"[site]\nname = \"Camp Ålesund\"",
       [](const Config& c) { return c.site.name == "Camp Ålesund"; }},
      {"[site]\nbanner_text = \"UNCLASSIFIED//FOUO\"",
       [](const Config& c) { return c.site.banner_text == "UNCLASSIFIED//FOUO"; }},
      {"[site]\nbanner_color = \"purple\"",
       [](const Config& c) { return c.site.banner_color == BannerColor::kPurple; }},
      {"[site]\nlogin_notice = \"\"\"\nYou are accessing a system.\n\n\tConsent.\"\"\"\n"
       "require_consent = true",
       [](const Config& c) {
         return c.site.login_notice == "You are accessing a system.\n\n\tConsent." &&
                c.site.require_consent;
       }},
      {"[log]\nlevel = \"debug\"", [](const Config& c) { return c.log.level == LogLevel::kDebug; }},
      {"[log]\nrequests = false", [](const Config& c) { return !c.log.requests; }},
      {"[database]\nbusy_timeout_ms = 1",
       [](const Config& c) { return c.database.busy_timeout_ms == 1; }},
      {"[database]\nwal_autocheckpoint_pages = 1000000",
       [](const Config& c) { return c.database.wal_autocheckpoint_pages == 1000000; }},
      {"[chat]\nmax_message_length = 100", [](const Config& c) {
         return c.chat.max_message_length == 100;
       }},
      {"[chat]\nmax_group_members = 3", [](const Config& c) {
         return c.chat.max_group_members == 3;
       }},
      {"[chat]\ndefault_room = \"\"", [](const Config& c) { return c.chat.default_room.empty(); }},
      {"[files]\nmax_file_mb = 5", [](const Config& c) { return c.files.max_file_mb == 5; }},
      {"[files]\nuser_quota_mb = 0", [](const Config& c) { return c.files.user_quota_mb == 0; }},
      {"[files]\nroom_quota_mb = 7", [](const Config& c) { return c.files.room_quota_mb == 7; }},
      {"[files]\nallow_types = [\"image\", \"pdf\"]", [](const Config& c) {
         return c.files.allow_types == std::vector<std::string>{"image", "pdf"};
       }},
      {"[files]\ndeny_types = []", [](const Config& c) { return c.files.deny_types.empty(); }},
      {"[backup]\nschedule = \"23:59\"\nkey_file = \"/etc/outpost/b.key\"",
       [](const Config& c) {
         return c.backup.schedule == "23:59" && c.backup.key_file == "/etc/outpost/b.key";
       }},
      {"[backup]\ndir = \"/srv/b\"", [](const Config& c) { return BackupDir(c) == "/srv/b"; }},
      {"[backup]\nkeep = 1000", [](const Config& c) { return c.backup.keep == 1000; }},
      {"[backup]\npassphrase_file = \"/etc/outpost/b.pass\"",
       [](const Config& c) { return c.backup.passphrase_file == "/etc/outpost/b.pass"; }},
      {"[retention]\nmessages_days = 36500",
       [](const Config& c) { return c.retention.messages_days == 36500; }},
      {"[retention]\nfiles_days = 1", [](const Config& c) { return c.retention.files_days == 1; }},
      {"[realtime]\nmax_message_kib = 512",
       [](const Config& c) { return c.realtime.max_message_kib == 512; }},
      {"[realtime]\nmax_frame_kib = 128",
       [](const Config& c) { return c.realtime.max_frame_kib == 128; }},
      {"[realtime]\nmessages_per_second = 50",
       [](const Config& c) { return c.realtime.messages_per_second == 50; }},
      {"[realtime]\nmessage_burst = 90",
       [](const Config& c) { return c.realtime.message_burst == 90; }},
      {"[realtime]\nmax_connections_per_user = 0",
       [](const Config& c) { return c.realtime.max_connections_per_user == 0; }},
      {"[realtime]\nmax_connections_per_ip = 7",
       [](const Config& c) { return c.realtime.max_connections_per_ip == 7; }},
      {"[realtime]\nmax_queued_kib = 64",
       [](const Config& c) { return c.realtime.max_queued_kib == 64; }},
      {"[realtime]\nping_interval_seconds = 60",
       [](const Config& c) { return c.realtime.ping_interval_seconds == 60; }},
      {"[chat]\nposts_per_minute = 0", [](const Config& c) { return c.chat.posts_per_minute == 0; }},
      {"[files]\nuploads_per_minute = 7",
       [](const Config& c) { return c.files.uploads_per_minute == 7; }},
      {"[audit]\non_failure = \"continue\"",
       [](const Config& c) { return c.audit.on_failure == AuditOnFailure::kContinue; }},
      {"[audit]\ncheckpoint_every_records = 10",
       [](const Config& c) { return c.audit.checkpoint_every_records == 10; }},
      {"[audit]\ncheckpoint_every_minutes = 5",
       [](const Config& c) { return c.audit.checkpoint_every_minutes == 5; }},
      {"[audit]\nmax_size_mb = 1", [](const Config& c) { return c.audit.max_size_mb == 1; }},
      {"[siem]\nenabled = true\nhost = \"10.0.0.5\"\nport = 601\ntransport = \"tcp\"\n"
       "app_name = \"chat-a\"\nfacility = 10",
       [](const Config& c) {
         return c.siem.enabled && c.siem.host == "10.0.0.5" && c.siem.port == 601 &&
                c.siem.transport == SiemTransport::kTcp && c.siem.app_name == "chat-a" &&
                c.siem.facility == 10;
       }},
      {"[siem]\nhost = \"2001:DB8::1\"\nca_file = \"/etc/outpost/siem-ca.pem\"\n"
       "server_name = \"SIEM.Site.Example\"",
       [](const Config& c) {
         return c.siem.host == "2001:db8::1" && c.siem.ca_file == "/etc/outpost/siem-ca.pem" &&
                c.siem.server_name == "siem.site.example" && !c.siem.enabled;
       }},
  };
  std::vector<std::string> covered;
  for (const Case& k : cases) {
    INFO(k.toml);
    Config c = LoadOk(k.toml);
    CHECK(k.check(c));
    if (std::string(k.toml) !=
        "[tls]\nmin_version = \"1.2\"\n[session]\nidle_timeout_minutes = 1440") {
      CHECK(c != Defaults());  // a case left at the default would prove nothing
    }
    for (const std::string& key : KeysSet(k.toml)) covered.push_back(key);
  }
  std::vector<std::string> known = KnownKeys();
  std::sort(covered.begin(), covered.end());
  covered.erase(std::unique(covered.begin(), covered.end()), covered.end());  // set twice is fine
  std::sort(known.begin(), known.end());
  CHECK(covered == known);
}

TEST_CASE("dotted keys and inline tables are read like [table] sections", "[unit][config]") {
  CHECK(LoadOk("server.worker_threads = 7").server.worker_threads == 7);
  CHECK(LoadOk("log = { level = \"warn\" }").log.level == LogLevel::kWarn);
}

TEST_CASE("every integer key accepts its bounds and refuses one past them", "[unit][config]") {
  struct Range {
    const char* table;
    const char* key;
    long long min;
    long long max;
  };
  const Range ranges[] = {
      {"server", "worker_threads", 1, 1024},
      {"server", "max_body_bytes", 1024, 1073741824},
      {"server", "max_header_bytes", 1024, 65536},
      {"server", "read_timeout_seconds", 1, 300},
      {"server", "write_timeout_seconds", 1, 300},
      {"server", "keep_alive_timeout_seconds", 1, 300},
      {"server", "keep_alive_max_requests", 1, 100000},
      {"server", "shutdown_grace_seconds", 0, 300},
      {"session", "idle_timeout_minutes", 1, 1440},
      {"session", "absolute_timeout_hours", 1, 720},
      {"auth", "password_min_length", 8, 128},
      {"auth", "password_max_length", 15, 1024},  // the lower bound is password_min_length
      {"auth", "login_attempts_per_minute_per_ip", 1, 10000},
      {"auth", "password_max_age_days", 0, 3650},
      {"auth", "password_min_age_days", 0, 365},
      {"auth", "password_history", 0, 24},
      {"auth", "lockout_attempts", 0, 100},
      {"auth", "lockout_window_minutes", 1, 1440},
      {"auth", "lockout_minutes", 0, 525600},
      {"auth", "max_failures_per_hour", 1, 100},
      {"auth", "login_user_names_per_ip", 0, 10000},
      {"auth", "login_user_names_window_minutes", 1, 1440},
      {"database", "busy_timeout_ms", 1, 600000},
      {"database", "wal_autocheckpoint_pages", 1, 1000000},
      {"chat", "max_message_length", 1, 100000},
      {"chat", "max_group_members", 3, 50},
      {"files", "max_file_mb", 1, 102400},
      {"files", "user_quota_mb", 0, 10485760},
      {"files", "room_quota_mb", 0, 10485760},
      {"chat", "posts_per_minute", 0, 100000},
      {"files", "uploads_per_minute", 0, 100000},
      {"audit", "checkpoint_every_records", 1, 1000000},
      {"audit", "checkpoint_every_minutes", 1, 10080},
      {"audit", "max_size_mb", 1, 1048576},
      {"siem", "port", 1, 65535},
      {"siem", "facility", 0, 23},
  };
  for (const Range& r : ranges) {
    std::string head = std::string("[") + r.table + "]\n" + r.key + " = ";
    INFO(head);
    CHECK(LoadString(head + std::to_string(r.min), "t.toml").ok());
    CHECK(LoadString(head + std::to_string(r.max), "t.toml").ok());
    std::string low = ErrorOf(head + std::to_string(r.min - 1));
    std::string high = ErrorOf(head + std::to_string(r.max + 1));
    std::string key = std::string(r.table) + "." + r.key;
    if (key != "auth.password_max_length") {
      std::string range =
          "must be between " + std::to_string(r.min) + " and " + std::to_string(r.max) + ", got ";
      CHECK(low == "t.toml:2:" + std::to_string(std::string(r.key).size() + 4) + ": " + key + ": " +
                       range + std::to_string(r.min - 1));
      CHECK(high.ends_with(range + std::to_string(r.max + 1)));
    }
  }
  // stig: a minimum age at or above the maximum would forbid ever changing in time.
  CHECK(ErrorOf("[auth]\npassword_profile = \"stig\"\npassword_min_age_days = 60") ==
        "t.toml:3:25: auth.password_min_age_days: must be below auth.password_max_age_days (60), "
        "got 60");
  CHECK(ErrorOf("[auth]\npassword_profile = \"stig\"\npassword_max_age_days = 1") ==
        "t.toml:3:25: auth.password_max_age_days: must be above auth.password_min_age_days (1), "
        "got 1");
  CHECK(LoadString("[auth]\npassword_min_age_days = 60", "t.toml").ok());  // nist: unused
  CHECK(LoadString("[auth]\npassword_profile = \"stig\"\npassword_max_age_days = 0",
                   "t.toml").ok());  // never expires: any minimum age
  CHECK(ErrorOf("[auth]\npassword_max_length = 14") ==
        "t.toml:2:23: auth.password_max_length: must be at least auth.password_min_length (15), "
        "got 14");
}

TEST_CASE("SIEM forwarding needs an address, and a CA file over TLS", "[unit][config]") {
  CHECK(ErrorOf("[siem]\nenabled = true") ==
        "t.toml:2:11: siem.enabled: needs siem.host: the address of the SIEM's syslog receiver");
  CHECK(ErrorOf("[siem]\nenabled = true\nhost = \"10.0.0.5\"") ==
        "t.toml:2:11: siem.enabled: with transport \"tls\" needs siem.ca_file to verify the "
        "SIEM's certificate (or use transport \"tcp\")");
  CHECK(LoadString("[siem]\nenabled = true\nhost = \"10.0.0.5\"\ntransport = \"tcp\"", "t.toml")
            .ok());
  CHECK(ErrorOf("[siem]\nhost = \"siem.example\"") ==
        "t.toml:2:8: siem.host: must be an IP address (no DNS lookups: the binary is static), "
        "got \"siem.example\"");
  CHECK(ErrorOf("[siem]\napp_name = \"out post\"") ==
        "t.toml:2:12: siem.app_name: must be printable ASCII without spaces (RFC 5424 "
        "APP-NAME), got \"out post\"");
  CHECK(ErrorOf("[audit]\non_failure = \"ignore\"") ==
        "t.toml:2:14: audit.on_failure: must be one of \"refuse\", \"continue\"; got \"ignore\"");
}

TEST_CASE("a TOML syntax error is reported with its line and column", "[unit][config]") {
  std::string e = ErrorOf("[server]\nworker_threads = 4\nlisten = \n");
  CHECK(e.starts_with("t.toml:3:10: TOML syntax error: "));
  CHECK(Lines(e).size() == 1);
  // An integer past 64 bits is a syntax error in toml++, with its position.
  CHECK(ErrorOf("[server]\nworker_threads = 99999999999999999999").starts_with("t.toml:2:"));
  CHECK(ErrorOf("[server]\nworker_threads = 1\nworker_threads = 2")
            .starts_with("t.toml:3:18: TOML syntax error: "));
}

TEST_CASE("unknown tables and keys are refused with the closest known name", "[unit][config]") {
  CHECK(ErrorOf("[server]\nlistne = \"127.0.0.1:1\"") ==
        "t.toml:2:1: server.listne: unknown key 'server.listne' (did you mean 'server.listen'?)");
  // Two swapped pairs count as two edits, not four: still close enough to suggest.
  CHECK(ErrorOf("[server]\nwokrer_thraeds = 1") ==
        "t.toml:2:1: server.wokrer_thraeds: unknown key 'server.wokrer_thraeds' (did you mean "
        "'server.worker_threads'?)");
  CHECK(ErrorOf("\n[sever]\n") ==
        "t.toml:2:2: sever: unknown table 'sever' (did you mean 'server'?)");
  CHECK(ErrorOf("listen = \"127.0.0.1:1\"") ==
        "t.toml:1:1: listen: unknown key 'listen' (did you mean 'server.listen'?)");
  CHECK(ErrorOf("[server]\ndir = \"/x\"") ==
        "t.toml:2:1: server.dir: unknown key 'server.dir' (did you mean 'data.dir'?)");
  CHECK(ErrorOf("[server]\nfrobnicate = 1") ==
        "t.toml:2:1: server.frobnicate: unknown key 'server.frobnicate'");
  CHECK(ErrorOf("[server.tls]\n") == "t.toml:1:9: server.tls: unknown key 'server.tls'");
  CHECK(ErrorOf("server = 3") == "t.toml:1:1: server: expected a table, got an integer");
  CHECK(ErrorOf("[[server]]\n") == "t.toml:1:3: server: expected a table, got an array");
}

TEST_CASE("values of the wrong type are refused, floats for integers too", "[unit][config]") {
  CHECK(ErrorOf("[server]\nworker_threads = \"16\"") ==
        "t.toml:2:18: server.worker_threads: expected an integer, got a string");
  CHECK(ErrorOf("[server]\nworker_threads = 16.0") ==
        "t.toml:2:18: server.worker_threads: expected an integer, got a floating-point number");
  CHECK(ErrorOf("[log]\nrequests = 1") ==
        "t.toml:2:12: log.requests: expected a boolean (true or false), got an integer");
  CHECK(ErrorOf("[tls]\nmin_version = 1.2") ==
        "t.toml:2:15: tls.min_version: expected a string, got a floating-point number");
  CHECK(ErrorOf("[server]\nhost_names = \"localhost\"") ==
        "t.toml:2:14: server.host_names: expected an array of strings, got a string");
  CHECK(ErrorOf("[server]\nhost_names = [\"a\", 2]") ==
        "t.toml:2:20: server.host_names[1]: expected a string, got an integer");
  CHECK(ErrorOf("[server]\nlisten = 8443") ==
        "t.toml:2:10: server.listen: expected a string (HOST:PORT), got an integer");
  CHECK(ErrorOf("[data]\ndir = 1979-05-27") ==
        "t.toml:2:7: data.dir: expected a string, got a date");
}

TEST_CASE("integers that do not fit an int are refused, not truncated", "[unit][config]") {
  // 4294967297 would wrap to 1, a valid thread count, if narrowed before the range check.
  CHECK(ErrorOf("[server]\nworker_threads = 4294967297") ==
        "t.toml:2:18: server.worker_threads: must be between 1 and 1024, got 4294967297");
  CHECK(ErrorOf("[server]\nworker_threads = -4294967295") ==
        "t.toml:2:18: server.worker_threads: must be between 1 and 1024, got -4294967295");
}

TEST_CASE("enum values outside the allowed set are refused with the allowed ones",
          "[unit][config]") {
  CHECK(ErrorOf("[auth]\nargon2_ops = \"fast\"") ==
        "t.toml:2:14: auth.argon2_ops: must be one of \"interactive\", \"moderate\", "
        "\"sensitive\"; got \"fast\"");
  CHECK(ErrorOf("[site]\nbanner_color = \"Green\"") ==
        "t.toml:2:16: site.banner_color: must be one of \"green\", \"blue\", \"red\", "
        "\"orange\", \"yellow\", \"purple\"; got \"Green\"");
  CHECK(ErrorOf("[log]\nlevel = \"trace\"") ==
        "t.toml:2:9: log.level: must be one of \"debug\", \"info\", \"warn\", \"error\"; got "
        "\"trace\"");
  CHECK(ErrorOf("[tls]\nmin_version = \"1.3\"") ==
        "t.toml:2:15: tls.min_version: must be \"1.2\" (mbedTLS 2.28 has no TLS 1.3), got \"1.3\"");
}

TEST_CASE("bad listen addresses are refused with the key and the reason", "[unit][config]") {
  CHECK(ErrorOf("[server]\nlisten = \"127.0.0.1:0\"") ==
        "t.toml:2:10: server.listen: \"127.0.0.1:0\": port must be between 1 and 65535, got 0");
  CHECK(ErrorOf("[server]\nhttp_redirect_listen = \"chat.example.mil:80\"")
            .starts_with("t.toml:2:24: server.http_redirect_listen: \"chat.example.mil:80\": "));
  CHECK(ErrorOf("[server]\nhttp_redirect_listen = \"0.0.0.0:8443\"") ==
        "t.toml:2:24: server.http_redirect_listen: must not use the port of server.listen "
        "(127.0.0.1:8443), got 0.0.0.0:8443");
  // Different hosts may share a port; the same host may not.
  CHECK(LoadString("[server]\nlisten = \"127.0.0.1:443\"\nhttp_redirect_listen = \"127.0.0.2:443\"",
                   "t.toml")
            .ok());
  CHECK(ErrorOf("[server]\nlisten = \"localhost:80\"\nhttp_redirect_listen = \"127.0.0.1:80\"") ==
        "t.toml:3:24: server.http_redirect_listen: must not use the port of server.listen "
        "(127.0.0.1:80), got 127.0.0.1:80");
}

TEST_CASE("string values that break their rules are refused", "[unit][config]") {
  CHECK(ErrorOf("[data]\ndir = \"var/outpost\"") ==
        "t.toml:2:7: data.dir: must be an absolute path, got \"var/outpost\"");
  CHECK(ErrorOf("[data]\ndir = \"\"") == "t.toml:2:7: data.dir: must not be empty");
  CHECK(ErrorOf("[tls]\ncert_file = \"/etc/c.pem\"") ==
        "t.toml:2:13: tls.cert_file: must be set together with tls.key_file, which is empty");
  CHECK(ErrorOf("[tls]\nkey_file = \"k.pem\"\ncert_file = \"/c.pem\"") ==
        "t.toml:2:12: tls.key_file: must be an absolute path, got \"k.pem\"");
  CHECK(ErrorOf("[session]\ncookie_name = \"outpost\"")
            .starts_with("t.toml:2:15: session.cookie_name: must be \"__Host-\" followed by"));
  CHECK(ErrorOf("[session]\ncookie_name = \"__Host-\"")
            .starts_with("t.toml:2:15: session.cookie_name: "));
  CHECK(ErrorOf("[session]\ncookie_name = \"__Host-a;b\"")
            .starts_with("t.toml:2:15: session.cookie_name: must be a cookie token"));
  CHECK(ErrorOf("[site]\nname = \"\"") == "t.toml:2:8: site.name: must be 1 to 100 bytes long");
  CHECK(ErrorOf("[site]\nbanner_text = \"a\\nb\"") ==
        "t.toml:2:15: site.banner_text: must not contain control characters (one line only)");
  CHECK(ErrorOf("[site]\nlogin_notice = \"a\\u0000b\"")
            .starts_with("t.toml:2:16: site.login_notice: must not contain control characters"));
  CHECK(ErrorOf("[server]\nhost_names = []") ==
        "t.toml:2:14: server.host_names: must list at least 1 entry");
  CHECK(ErrorOf("[server]\nhost_names = [\"*.example.mil\"]")
            .starts_with("t.toml:2:15: server.host_names[0]: must be an IP address or a DNS name"));
  CHECK(ErrorOf("[server]\nhost_names = [\"10.0.0.300\"]")
            .starts_with("t.toml:2:15: server.host_names[0]: must be an IP address or a DNS name"));
  CHECK(ErrorOf("[server]\nhost_names = [\"[::1]\"]")
            .starts_with("t.toml:2:15: server.host_names[0]: IPv6 addresses are written without"));
  CHECK(ErrorOf("[server]\nhost_names = [\"Chat.Example\", \"chat.example\"]") ==
        "t.toml:2:31: server.host_names[1]: \"chat.example\" is listed twice");
  CHECK(LoadOk("[server]\nhost_names = [\"Chat.Example\", \"0:0::1\"]").server.host_names ==
        std::vector<std::string>{"chat.example", "::1"});
}

TEST_CASE("every problem in a file is reported at once, in file order", "[unit][config]") {
  std::string e = ErrorOf(
      "[site]\n"
      "banner_color = \"pink\"\n"
      "[server]\n"
      "worker_threads = 0\n"
      "listne = \"x\"\n"
      "max_body_bytes = 2.5\n"
      "[auth]\n"
      "password_min_length = 100\n"
      "password_max_length = 50\n");
  std::vector<std::string> lines = Lines(e);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0].starts_with("t.toml:2:16: site.banner_color: must be one of"));
  CHECK(lines[1] == "t.toml:4:18: server.worker_threads: must be between 1 and 1024, got 0");
  CHECK(lines[2].starts_with("t.toml:5:1: server.listne: unknown key 'server.listne'"));
  CHECK(lines[3] ==
        "t.toml:6:18: server.max_body_bytes: expected an integer, got a floating-point number");
  CHECK(lines[4] ==
        "t.toml:9:23: auth.password_max_length: must be at least auth.password_min_length "
        "(100), got 50");
  // The relation holds against the other key's default: min 128 with the default max 128.
  CHECK(LoadString("[auth]\npassword_min_length = 128", "t.toml").ok());
  CHECK(ErrorOf("[auth]\npassword_max_length = 100\npassword_min_length = 120") ==
        "t.toml:2:23: auth.password_max_length: must be at least auth.password_min_length "
        "(120), got 100");
}

TEST_CASE("ParseListenAddress reads IPv4, localhost and bracketed IPv6", "[unit][config]") {
  struct Good {
    const char* text;
    ListenAddress want;
    const char* canonical;
  };
  const Good good[] = {
      {"127.0.0.1:8443", {"127.0.0.1", 8443, false}, "127.0.0.1:8443"},
      {"localhost:80", {"127.0.0.1", 80, false}, "127.0.0.1:80"},
      {"0.0.0.0:1", {"0.0.0.0", 1, false}, "0.0.0.0:1"},
      {"10.20.30.40:65535", {"10.20.30.40", 65535, false}, "10.20.30.40:65535"},
      {"[::1]:443", {"::1", 443, true}, "[::1]:443"},
      {"[::]:8443", {"::", 8443, true}, "[::]:8443"},
      {"[0:0:0:0:0:0:0:1]:443", {"::1", 443, true}, "[::1]:443"},
      {"[FE80::A]:443", {"fe80::a", 443, true}, "[fe80::a]:443"},
  };
  for (const Good& g : good) {
    INFO(g.text);
    Result<ListenAddress> r = ParseListenAddress(g.text);
    REQUIRE(r.ok());
    CHECK(*r == g.want);
    CHECK(r->ToString() == g.canonical);
  }
  CHECK(ParseListenAddress("0.0.0.0:1")->IsWildcard());
  CHECK(ParseListenAddress("[::]:1")->IsWildcard());
  CHECK_FALSE(ParseListenAddress("127.0.0.1:1")->IsWildcard());
}

TEST_CASE("ParseListenAddress refuses bad ports, missing parts and names", "[unit][config]") {
  struct Bad {
    std::string_view text;
    const char* reason;  // a part of the message
  };
  using namespace std::string_view_literals;
  const Bad bad[] = {
      {"127.0.0.1:0", "port must be between 1 and 65535, got 0"},
      {"127.0.0.1:65536", "port must be between 1 and 65535, got 65536"},
      {"127.0.0.1:99999999999999999999", "port must be between 1 and 65535"},
      {"127.0.0.1", "missing ':PORT'"},
      {"127.0.0.1:", "missing port"},
      {"127.0.0.1:-1", "is not a number"},
      {"127.0.0.1:+80", "is not a number"},
      {"127.0.0.1:80x", "is not a number"},
      {":8443", "missing host"},
      {"junk", "missing ':PORT'"},
      {"junk:80", "is not an IPv4 address"},
      {"example.com:443", "is not an IPv4 address"},
      {"256.1.1.1:80", "is not an IPv4 address"},
      {"127.1:80", "is not an IPv4 address"},
      {"::1:443", "must be in brackets"},
      {"[::1]443", "missing ':PORT' after ']'"},
      {"[::1", "missing ']'"},
      {"[127.0.0.1]:80", "is not an IPv6 address"},
      {"[fe80::1%eth0]:80", "is not an IPv6 address"},
      {"", "empty address"},
      {" 127.0.0.1:80", "spaces and control characters"},
      {"127.0.0.1\0junk:80"sv, "spaces and control characters"},
  };
  for (const Bad& b : bad) {
    INFO(std::string(b.text));
    Result<ListenAddress> r = ParseListenAddress(b.text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains(b.reason));
  }
}

TEST_CASE("DefaultToml loads to Defaults and, uncommented, sets every key to its default",
          "[unit][config]") {
  const std::string text = DefaultToml();
  CHECK(LoadOk(text) == Defaults());
  const std::string uncommented = Uncomment(text);
  REQUIRE(uncommented != text);
  CHECK(LoadOk(uncommented) == Defaults());
  std::vector<std::string> keys = KeysSet(uncommented);
  std::vector<std::string> known = KnownKeys();
  CHECK(keys == known);  // each key once, in documentation order
}

TEST_CASE("appliance/outpost.toml is DefaultToml and loads to Defaults", "[unit][config]") {
  const std::string path = std::string(OUTPOST_SOURCE_DIR) + "/appliance/outpost.toml";
  const std::string shipped = ReadText(path);
  Result<Config> loaded = LoadFile(path);
  REQUIRE(loaded.ok());
  CHECK(*loaded == Defaults());
  CHECK(LoadOk(Uncomment(shipped)) == Defaults());
  CHECK(KeysSet(Uncomment(shipped)) == KnownKeys());
  // Regenerate with DefaultToml() when this fails: the two must stay in step.
  CHECK(shipped == DefaultToml());
}

TEST_CASE("Describe renders a config that loads back equal", "[unit][config]") {
  Config c = LoadOk(
      "[server]\n"
      "listen = \"[::]:443\"\n"
      "host_names = [\"chat.example.mil\", \"10.0.0.1\"]\n"
      "http_redirect_listen = \"0.0.0.0:80\"\n"
      "worker_threads = 9\n"
      "[tls]\n"
      "cert_file = \"/etc/outpost/a \\\"b\\\".pem\"\n"
      "key_file = \"/etc/outpost/k\\\\.pem\"\n"
      "[auth]\n"
      "argon2_ops = \"interactive\"\n"
      "[site]\n"
      "name = \"Ünïcode ☃\"\n"
      "banner_text = \"SECRET//NOFORN\"\n"
      "banner_color = \"red\"\n"
      "login_notice = \"line 1\\nline 2\\r\\n\\tindented \\\"quoted\\\" \\\\ done\"\n"
      "[log]\n"
      "level = \"error\"\n"
      "requests = false\n");
  std::string text = Describe(c);
  INFO(text);
  CHECK(LoadOk(text) == c);
  CHECK(LoadOk(Describe(Defaults())) == Defaults());
  CHECK(text.find("listen = \"[::]:443\"\n") != std::string::npos);
  CHECK(text.find("argon2_ops = \"interactive\"\n") != std::string::npos);
  // Paths the defaults resolve to are shown next to the empty keys.
  CHECK(Describe(Defaults()).find("cert_file = \"\"  # uses \"/var/lib/outpost/tls/server.pem\"") !=
        std::string::npos);
  // The CLI's --data override changes what the empty keys resolve to.
  Config overridden = Defaults();
  overridden.data.dir = "var";
  CHECK(CertFile(overridden) == "var/tls/server.pem");
}

TEST_CASE("LoadFile reports a missing file as NotFound and names the file in errors",
          "[unit][config]") {
  Result<Config> missing = LoadFile("/nonexistent/outpost-config-test.toml");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().IsNotFound());
  CHECK(missing.status().message() == "/nonexistent/outpost-config-test.toml: no such file");

  Result<Config> dir = LoadFile("/");
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.status().code() == Code::kIoError);

  TempFile good("[server]\nworker_threads = 4\n");
  Result<Config> loaded = LoadFile(good.path);
  REQUIRE(loaded.ok());
  CHECK(loaded->server.worker_threads == 4);

  TempFile bad("\n[server]\nworker_threads = 0\n");
  Result<Config> refused = LoadFile(bad.path);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message() ==
        bad.path + ":3:18: server.worker_threads: must be between 1 and 1024, got 0");

  TempFile huge(std::string(2 << 20, '#'));
  Result<Config> too_big = LoadFile(huge.path);
  REQUIRE_FALSE(too_big.ok());
  CHECK_THAT(too_big.status().message(), Catch::Contains("larger than 1 MiB"));
}

TEST_CASE("enum names match the file's spelling", "[unit][config]") {
  CHECK(Argon2OpsName(Argon2Ops::kInteractive) == "interactive");
  CHECK(Argon2OpsName(Argon2Ops::kSensitive) == "sensitive");
  CHECK(BannerColorName(BannerColor::kOrange) == "orange");
  CHECK(LogLevelName(LogLevel::kWarn) == "warn");
}

}  // namespace
}  // namespace outpost::config
