// outpost serve: runs the appliance until SIGTERM or SIGINT. SIGHUP reloads the certificate,
// and the smart-card CA bundle and CRLs.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <future>
#include <thread>
#include <iostream>

#include "api/realtime.h"
#include "api/server.h"
#include "net/hub.h"
#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "cli/siem_link.h"
#include "domain/audit_forwarder.h"
#include "domain/audit_watch.h"
#include "cli/smartcard.h"
#include "domain/cert_identity.h"
#include "domain/backup_scheduler.h"
#include "domain/files.h"
#include "domain/retention.h"
#include "net/tls.h"
#include "util/fs.h"
#include "util/log.h"

namespace outpost::cli {
namespace {

net::HubOptions HubOptionsFor(const config::RealtimeConfig& rt) {
  net::HubOptions o;
  o.limits.max_message_bytes = uint64_t{1024} * static_cast<uint64_t>(rt.max_message_kib);
  o.limits.max_frame_bytes = uint64_t{1024} * static_cast<uint64_t>(rt.max_frame_kib);
  o.messages_per_second = rt.messages_per_second;
  o.message_burst = rt.message_burst;
  o.max_connections_per_user = rt.max_connections_per_user;
  o.max_connections_per_ip = rt.max_connections_per_ip;
  o.max_queued_bytes = size_t{1024} * static_cast<size_t>(rt.max_queued_kib);
  o.ping_interval = std::chrono::seconds(rt.ping_interval_seconds);
  return o;
}

struct ServeArgs {
  std::string listen;
};

// The daily retention purge on its own thread: the first a few minutes after the start (a
// server restarted in a loop does not purge in a loop), then every 24 hours.
class PurgeJob {
 public:
  explicit PurgeJob(domain::Retention* retention) : retention_(retention) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~PurgeJob() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    auto wait = std::chrono::minutes(5);
    while (!wake_.wait_for(lock, wait, [this] { return stopping_; })) {
      lock.unlock();
      RunOnce();
      lock.lock();
      wait = std::chrono::hours(24);
    }
  }

  void RunOnce() {
    // Everything kept forever (the default): nothing to purge, and no daily audit record.
    Result<bool> active = retention_->Active();
    if (active.ok() && !*active) return;
    Result<domain::PurgeCounts> purged =
        active.ok() ? retention_->Purge(false) : Result<domain::PurgeCounts>(active.status());
    if (purged.ok()) {
      log::Info("retention purge", {{"messages", purged->messages},
                                    {"files", purged->files},
                                    {"blobs", purged->blobs},
                                    {"events", purged->events}});
    } else {
      log::Error("retention purge failed", {{"error", purged.status().ToString()}});
    }
  }

  domain::Retention* const retention_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

// The effective configuration as (table.key, value) pairs, read back from the TOML that
// config::Describe renders (one "key = value" line per key under its [table]).
domain::ConfigEntries ConfigEntriesOf(const config::Config& cfg) {
  domain::ConfigEntries entries;
  const std::string text = config::Describe(cfg);
  std::string table;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      table = std::string(line.substr(1, line.size() - 2));
    } else if (size_t eq = line.find(" = "); !table.empty() && eq != std::string_view::npos) {
      entries.emplace_back(table + "." + std::string(line.substr(0, eq)),
                           std::string(line.substr(eq + 3)));
    }
  }
  return entries;
}

domain::BackupSchedule ScheduleFor(const config::Config& cfg) {
  domain::BackupSchedule s;
  Result<int> minute = config::ParseDailyTime(cfg.backup.schedule);  // checked by loading
  s.daily_minute = minute.ok() ? *minute : -1;
  s.dir = config::BackupDir(cfg);
  s.keep = cfg.backup.keep;
  s.key_file = cfg.backup.key_file;
  s.passphrase_file = cfg.backup.passphrase_file;
  s.busy_timeout_ms = cfg.database.busy_timeout_ms;
  return s;
}

Result<std::shared_ptr<const net::TlsContext>> LoadTls(const config::Config& cfg) {
  std::string cert_file = config::CertFile(cfg), key_file = config::KeyFile(cfg);
  OUTPOST_ASSIGN_OR_RETURN(std::string cert, ReadFile(cert_file));
  OUTPOST_ASSIGN_OR_RETURN(std::string key, ReadFile(key_file));
  // Client certificates (smart cards): the CA bundle and CRLs are read again on every reload.
  std::vector<std::string> warnings;
  Result<std::shared_ptr<const net::ClientTrust>> trust = LoadClientTrust(cfg, &warnings);
  if (!trust.ok()) {
    WipeString(&key);
    return trust.status();
  }
  for (const std::string& w : warnings) log::Warn("smart-card login", {{"warning", w}});
  if (*trust != nullptr) {
    log::Info("smart-card login", {{"client_auth", (*trust)->options().mode ==
                                                           net::ClientAuthMode::kRequired
                                                       ? "required"
                                                       : "optional"},
                                   {"cas", (*trust)->ca_count()},
                                   {"crls", (*trust)->crl_count()}});
  }
  Result<std::shared_ptr<const net::TlsContext>> tls =
      net::TlsContext::Create(cert, key, *trust);
  WipeString(&key);
  if (!tls.ok()) return tls.status().WithContext(cert_file);
  Result<net::CertInfo> info = net::InspectCertificate(cert);
  if (info.ok() && info->not_after < SystemClock()->NowMillis() / 1000) {
    log::Warn("the server certificate has expired; browsers will refuse it",
              {{"file", cert_file}, {"not_after", FormatIso8601(info->not_after * 1000)}});
  }
  return tls;
}

int RunServe(const GlobalOptions& global, const ServeArgs& args) {
  Result<config::Config> loaded = LoadConfig(global);
  if (!loaded.ok()) return ConfigFailure(loaded.status());
  config::Config cfg = std::move(*loaded);
  // What config.changed compares: the file (with --data), not --listen, which is an argument
  // of this start (server.start records the port).
  const domain::ConfigEntries config_entries = ConfigEntriesOf(cfg);
  if (!args.listen.empty()) {
    Result<config::ListenAddress> listen = config::ParseListenAddress(args.listen);
    if (!listen.ok()) return Fail(listen.status().WithContext("--listen"));
    cfg.server.listen = *listen;
  }
  log::SetLevel(std::string(config::LogLevelName(cfg.log.level)));

  // Signals go to the thread that waits for them below, not to server threads: block them
  // before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  domain::DataLayout layout = LayoutFor(cfg);
  if (Status st = CheckWritableDir(layout.root); !st.ok()) return Fail(st);
  Result<std::unique_ptr<storage::Database>> db = OpenDatabase(cfg);
  if (!db.ok()) return Fail(db.status());
  Result<domain::ApplianceKeys> keys = domain::LoadKeys(layout);
  if (!keys.ok()) return Fail(keys.status());
  Result<std::shared_ptr<const net::TlsContext>> tls = LoadTls(cfg);
  if (!tls.ok()) return Fail(tls.status());

  const Clock* clock = SystemClock();
  domain::Accounts accounts(db->get(), clock, AccountPolicyFor(cfg));
  domain::Roles roles(db->get());
  if (Status st = roles.Load(); !st.ok()) return Fail(st);
  domain::SessionPolicy session_policy;
  session_policy.idle_timeout_ms = int64_t{cfg.session.idle_timeout_minutes} * 60 * 1000;
  session_policy.admin_idle_timeout_ms =
      int64_t{cfg.session.admin_idle_timeout_minutes} * 60 * 1000;
  session_policy.absolute_timeout_ms = int64_t{cfg.session.absolute_timeout_hours} * 3600 * 1000;
  session_policy.is_privileged = [&roles](std::string_view role) {
    return roles.IsPrivileged(role);
  };
  domain::Sessions sessions(db->get(), clock, session_policy);
  domain::ApiTokens tokens(db->get(), clock);
  domain::CertIdentities cert_identities(db->get(), clock);
  domain::TwoFactor two_factor(db->get(), clock, keys->master_key.value(), cfg.site.name);
  domain::PendingLogins pending_logins(clock);
  domain::AuditLog audit(db->get(), clock, &*keys, AuditOptionsFor(cfg));
  accounts.SetAuditLog(&audit);  // auth.lockout, and auth.unlock when a lock runs out
  domain::AuditStorageMonitor audit_storage(db->get(), &audit, clock,
                                            int64_t{cfg.audit.max_size_mb} << 20);
  std::unique_ptr<domain::AuditForwarder> forwarder;
  if (cfg.siem.enabled) {
    forwarder = std::make_unique<domain::AuditForwarder>(
        db->get(), &audit, clock, SiemConnectorFor(cfg), ForwarderOptionsFor(cfg));
    audit.set_on_append([f = forwarder.get()] { f->Notify(); });
  }
  // Realtime: committed chat events go to the hub through the bridge, which also answers
  // what clients ask over their sockets (resume, typing).
  net::Hub hub{HubOptionsFor(cfg.realtime)};
  api::RealtimeBridge bridge(db->get(), &hub, clock);
  hub.set_message_handler(
      [&bridge](net::ConnId conn, int64_t user_id, int64_t session, std::string_view text) {
        bridge.OnMessage(conn, user_id, session, text);
      });
  hub.set_connection_handler([&bridge](net::ConnId conn, int64_t user_id, bool open) {
    bridge.OnConnection(conn, user_id, open);
  });
  if (Status st = hub.Start(); !st.ok()) return Fail(st);
  domain::Rooms rooms(db->get(), clock, &bridge, ChatOptionsFor(cfg));
  domain::Messages messages(db->get(), clock, &bridge, ChatOptionsFor(cfg));
  bridge.AttachChat(&accounts, &messages);
  bridge.AttachCredentials(&sessions, &tokens);
  domain::Files files(db->get(), clock, &messages, layout.root + "/blobs",
                      keys->master_key.value(), FilesOptionsFor(cfg));
  if (Status st = files.RemoveStaleTemps(); !st.ok()) return Fail(st);
  domain::Search search(db->get(), &messages);
  api::CursorCodec cursors(api::DeriveCursorKey(keys->master_key.value()));
  if (Result<int64_t> room = rooms.EnsureDefaultRoom(); !room.ok()) return Fail(room.status());
  api::Metrics metrics;
  domain::Retention retention(db->get(), clock, &files, &audit,
                              {cfg.retention.messages_days, cfg.retention.files_days});
  domain::BackupScheduler backups(layout, &*keys, &audit, clock, ScheduleFor(cfg));
  metrics.SetBackupScheduler(&backups);
  metrics.SetAudit(&audit_storage, forwarder.get());
  api::RateLimiter post_limiter(clock, cfg.chat.posts_per_minute);
  api::RateLimiter upload_limiter(clock, cfg.files.uploads_per_minute);
  api::LoginThrottle throttle(clock, cfg.auth.login_attempts_per_minute_per_ip,
                              cfg.auth.login_user_names_per_ip,
                              int64_t{cfg.auth.login_user_names_window_minutes} * 60 * 1000);

  api::ApiOptions options;
  options.host_names = cfg.server.host_names;
  // The names on the certificate are names this server answers for, too.
  if (Result<std::string> pem = ReadFile(config::CertFile(cfg)); pem.ok()) {
    if (Result<net::CertInfo> info = net::InspectCertificate(*pem); info.ok()) {
      for (const std::string& n : info->dns_names) {
        if (std::find(options.host_names.begin(), options.host_names.end(), n) ==
            options.host_names.end()) {
          options.host_names.push_back(n);
        }
      }
    }
  }
  options.https_port = cfg.server.listen.port;
  options.cookie_name = cfg.session.cookie_name;
  options.max_header_bytes = static_cast<size_t>(cfg.server.max_header_bytes);
  options.site_name = cfg.site.name;
  options.banner_text = cfg.site.banner_text;
  options.banner_color = std::string(config::BannerColorName(cfg.site.banner_color));
  options.login_notice = cfg.site.login_notice;
  options.require_consent = cfg.site.require_consent;
  options.require_2fa = cfg.auth.require_2fa == config::Require2fa::kAll
                            ? domain::TwoFactorRequirement::kAll
                        : cfg.auth.require_2fa == config::Require2fa::kPrivileged
                            ? domain::TwoFactorRequirement::kPrivileged
                            : domain::TwoFactorRequirement::kNone;
  options.login_attempts_per_minute_per_ip = cfg.auth.login_attempts_per_minute_per_ip;
  if (cfg.tls.client_auth != config::ClientAuth::kOff) {
    options.cert_map_by = cfg.tls.map_by == config::CertMapBy::kEmail
                              ? domain::CertIdentityKind::kEmail
                          : cfg.tls.map_by == config::CertMapBy::kSubject
                              ? domain::CertIdentityKind::kSubject
                              : domain::CertIdentityKind::kUpn;
  }
  options.password_login = cfg.auth.password_login == config::PasswordLogin::kNone
                               ? domain::PasswordLoginPolicy::kNone
                           : cfg.auth.password_login == config::PasswordLogin::kUnprivileged
                               ? domain::PasswordLoginPolicy::kUnprivileged
                               : domain::PasswordLoginPolicy::kAll;
  options.log_requests = cfg.log.requests;

  api::ListenOptions listen;
  listen.host = cfg.server.listen.host;
  listen.port = cfg.server.listen.port;
  if (cfg.server.http_redirect_listen) {
    listen.redirect_host = cfg.server.http_redirect_listen->host;
    listen.redirect_port = cfg.server.http_redirect_listen->port;
  }
  listen.worker_threads = cfg.server.worker_threads;
  listen.max_body_bytes = static_cast<size_t>(cfg.server.max_body_bytes);
  listen.read_timeout_seconds = cfg.server.read_timeout_seconds;
  listen.write_timeout_seconds = cfg.server.write_timeout_seconds;
  listen.keep_alive_timeout_seconds = cfg.server.keep_alive_timeout_seconds;
  listen.keep_alive_max_requests = cfg.server.keep_alive_max_requests;

  api::Services services;
  services.db = db->get();
  services.accounts = &accounts;
  services.sessions = &sessions;
  services.api_tokens = &tokens;
  services.cert_identities = &cert_identities;
  services.two_factor = &two_factor;
  services.pending_logins = &pending_logins;
  services.roles = &roles;
  services.rooms = &rooms;
  services.messages = &messages;
  services.files = &files;
  services.search = &search;
  services.cursors = &cursors;
  services.audit = &audit;
  services.metrics = &metrics;
  services.backups = &backups;
  services.retention = &retention;
  services.realtime = &bridge;
  services.login_throttle = &throttle;
  services.post_limiter = &post_limiter;
  services.upload_limiter = &upload_limiter;
  services.audit_storage = &audit_storage;
  services.audit_forwarder = forwarder.get();
  // The banner and sign-in notice: the file's values unless changed in the admin console.
  domain::SiteSettings site_settings(
      db->get(), &audit,
      {cfg.site.banner_text, std::string(config::BannerColorName(cfg.site.banner_color)),
       cfg.site.login_notice},
      cfg.site.require_consent);
  if (Status st = site_settings.Load(); !st.ok()) return Fail(st);
  services.site_settings = &site_settings;
  services.clock = clock;
  services.started_at = clock->NowMillis();

  api::ApiServer server(services, options, listen, *tls);
  server.EnableRealtime(&hub, &bridge);
  if (Status st = server.Start(); !st.ok()) return Fail(st);
  // Recorded once the port is bound, so that a start that fails is not claimed; under the
  // refuse policy a server that cannot audit does not serve.
  const domain::AuditEvent start{"system", 0, "", "server.start", "",
                                 domain::AuditOutcome::kSuccess,
                                 {{"version", OUTPOST_VERSION}, {"port", server.port()}}};
  // A configuration that differs from the last start's is recorded next (key names only).
  Status started = audit.Append(start).status();
  if (started.ok()) {
    Result<domain::ConfigChange> change = domain::AuditConfigChanges(
        db->get(), &audit, config_entries, keys->master_key.value());
    started = change.status();
    if (change.ok() && !change->changed.empty()) {
      log::Info("configuration changed since the last start", {{"keys", change->changed}});
    }
  }
  if (!started.ok()) {
    server.Stop();
    hub.Stop();
    server.Wait();
    return Fail(started);
  }
  if (Status st = audit_storage.Check(); !st.ok()) {
    log::Error("recording the audit storage alert failed", {{"error", st.ToString()}});
  }
  if (forwarder != nullptr) {
    if (Status st = forwarder->Start(); !st.ok()) {
      log::Error("SIEM forwarding cannot start", {{"error", st.ToString()}});
    }
  }
  // The SIEM gets what was appended up to the stop, for at most this long.
  constexpr auto kForwardDrain = std::chrono::seconds(3);
  // Stopping is audited and the tail signed, so that a clean stop leaves nothing unsigned.
  auto audit_stop = [&audit](std::string_view why) {
    const domain::AuditEvent stop{"system", 0, "", "server.stop", "",
                                  domain::AuditOutcome::kSuccess, {{"reason", why}}};
    Status st = audit.Append(stop).status();
    if (st.ok()) st = audit.Checkpoint();
    if (!st.ok()) log::Error("audit at stop failed", {{"error", st.ToString()}});
  };
  (void)sessions.PurgeExpired();
  backups.Start();
  PurgeJob purge_job(&retention);
  if (backups.scheduled()) {
    log::Info("scheduled backups", {{"next", FormatIso8601(backups.status().next_run_at)},
                                    {"dir", backups.schedule().dir}});
    if (Status st = backups.CheckKey(); !st.ok()) {
      log::Warn("scheduled backups will fail: the backup key cannot be read",
                {{"error", st.ToString()}});
    }
  }
  log::Info("listening", {{"url", "https://" + cfg.server.listen.ToString() + "/"},
                          {"data", layout.root},
                          {"version", OUTPOST_VERSION}});
  if (server.redirect_port() != 0) {
    log::Info("redirecting plain HTTP", {{"listen", cfg.server.http_redirect_listen->ToString()}});
  }

  std::string stop_reason = "signal";
  while (true) {
    // Wakes every minute so that a quiet audit log still gets its timed checkpoint.
    const timespec tick{60, 0};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig < 0) {
      if (errno == EAGAIN) {
        if (Status st = audit.MaybeCheckpoint(); !st.ok()) {
          log::Error("audit checkpoint failed", {{"error", st.ToString()}});
        }
        if (Status st = audit_storage.Check(); !st.ok()) {
          log::Error("recording the audit storage alert failed", {{"error", st.ToString()}});
        }
      }
      continue;
    }
    if (sig == SIGHUP) {
      Result<std::shared_ptr<const net::TlsContext>> fresh = LoadTls(cfg);
      if (fresh.ok()) {
        server.SetTlsContext(*fresh);
        log::Info("certificate reloaded", {{"subject", (*fresh)->subject()}});
      } else {
        log::Error("certificate reload failed; keeping the old one",
                   {{"error", fresh.status().ToString()}});
      }
      continue;
    }
    stop_reason = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    log::Info("stopping", {{"signal", stop_reason}});
    break;
  }
  backups.Stop();  // a backup in progress finishes: an archive is never cut short
  server.Stop();
  hub.Stop();  // WebSocket clients get 1001 (going away) and reconnect to the next server
  auto waited = std::async(std::launch::async, [&server] { server.Wait(); });
  if (waited.wait_for(std::chrono::seconds(cfg.server.shutdown_grace_seconds)) !=
      std::future_status::ready) {
    log::Warn("requests still running after the grace period; exiting without them",
              {{"grace_seconds", cfg.server.shutdown_grace_seconds}});
    audit_stop(stop_reason + ", grace period over");
    if (forwarder != nullptr) forwarder->Stop(kForwardDrain);
    Status st = (*db)->Checkpoint();
    log::Info("stopped", {{"checkpoint", st.ToString()}});
    std::_Exit(kExitOk);  // the stuck workers hold references we cannot wait for
  }
  audit_stop(stop_reason);
  if (forwarder != nullptr) forwarder->Stop(kForwardDrain);
  if (Status st = (*db)->Checkpoint(); !st.ok()) {
    log::Error("WAL checkpoint failed", {{"error", st.ToString()}});
  }
  log::Info("stopped");
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App* app, GlobalOptions* global, Action* action) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = AddSubcommand(app, "serve", "Run the appliance (HTTPS) until SIGTERM");
  cmd->add_option("--listen", args->listen,
                  "HOST:PORT to serve HTTPS on (overrides server.listen), e.g. 127.0.0.1:8443");
  cmd->callback([global, args, action] {
    *action = [global, args] { return RunServe(*global, *args); };
  });
}

}  // namespace outpost::cli
