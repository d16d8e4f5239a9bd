// outpost init: creates a data folder with keys, a site CA, a server certificate, the database
// and the first administrator. Either everything is created or nothing is left behind.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <vector>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "net/tls.h"
#include "util/fs.h"
#include "util/log.h"

namespace outpost::cli {
namespace {

// The CA lives long (it is what browsers are told to trust); the server certificate is kept
// under the 825 days that browsers accept for site certificates.
constexpr int kCaValidDays = 3650;
constexpr int kServerCertValidDays = 825;

struct InitArgs {
  std::string admin;
  std::string display_name;
  std::string password_file;
  std::vector<std::string> hosts;
};

bool IsIp(const std::string& h) { return h.find_first_not_of("0123456789.") == std::string::npos ||
                                         h.find(':') != std::string::npos; }

// Removes what a failed init created, newest first.
class Undo {
 public:
  void Created(std::string path) { paths_.push_back(std::move(path)); }
  void Commit() { paths_.clear(); }
  ~Undo() {
    for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) {
      if (unlink(it->c_str()) != 0) rmdir(it->c_str());
    }
  }

 private:
  std::vector<std::string> paths_;
};

Status WriteNew(const std::string& path, std::string_view data, int mode, Undo* undo) {
  if (PathExists(path)) return Status::AlreadyExists(path + " already exists");
  OUTPOST_RETURN_IF_ERROR(WriteFileAtomic(path, data, mode));
  undo->Created(path);
  return Status::Ok();
}

int RunInit(const GlobalOptions& global, const InitArgs& args) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  domain::DataLayout layout = LayoutFor(*cfg);

  // Everything that can be checked is checked before anything is written.
  std::string admin = args.admin;
  if (admin.empty()) admin = AskLine("Administrator user name: ");
  if (admin.empty()) {
    return Fail(Status::InvalidArgument("give the first administrator's name with --admin NAME"));
  }
  if (Status st = domain::CheckUsername(admin); !st.ok()) return Fail(st);
  if (PathExists(layout.database())) {
    return Fail(Status::AlreadyExists(layout.root + " is already initialized (" +
                                      layout.database() + " exists)"));
  }
  domain::AccountPolicy policy = AccountPolicyFor(*cfg);
  Result<SecretString> password =
      ReadPassword(args.password_file, "Password for " + admin + ": ", true);
  if (!password.ok()) return Fail(password.status());
  if (Status st = domain::CheckPasswordPolicy(password->value(), policy.password(), admin,
                                              policy.site_name);
      !st.ok()) {
    return Fail(st);
  }
  std::vector<std::string> hosts = args.hosts.empty() ? cfg->server.host_names : args.hosts;
  std::vector<std::string> dns, ips;
  for (const std::string& h : hosts) (IsIp(h) ? ips : dns).push_back(h);

  Undo undo;
  bool root_existed = PathExists(layout.root);
  if (Status st = MakeDirs(layout.root, 0700, true); !st.ok()) return Fail(st);
  if (!root_existed) undo.Created(layout.root);
  if (Status st = CheckWritableDir(layout.root); !st.ok()) return Fail(st);
  for (const std::string& dir : {layout.keys_dir(), layout.tls_dir()}) {
    bool existed = PathExists(dir);
    if (Status st = MakeDirs(dir, 0700, true); !st.ok()) return Fail(st);
    if (!existed) undo.Created(dir);
  }

  for (const std::string& p : {layout.signing_key(), layout.signing_pub(), layout.master_key()}) {
    if (PathExists(p)) {
      return Fail(Status::AlreadyExists(p + " already exists: refusing to replace keys"));
    }
  }
  if (Status st = domain::CreateKeys(layout); !st.ok()) return Fail(st);
  undo.Created(layout.signing_key());
  undo.Created(layout.signing_pub());
  undo.Created(layout.master_key());

  Result<net::KeyAndCert> ca = net::GenerateCa(cfg->site.name + " CA", kCaValidDays);
  if (!ca.ok()) return Fail(ca.status());
  Result<net::KeyAndCert> server = net::IssueServerCert(
      *ca, hosts.empty() ? "localhost" : hosts.front(), dns, ips, kServerCertValidDays);
  if (!server.ok()) return Fail(server.status());
  for (auto [path, data, mode] :
       {std::tuple{layout.ca_key(), ca->key_pem, 0600}, {layout.ca_cert(), ca->cert_pem, 0644},
        {layout.server_key(), server->key_pem, 0600},
        {layout.server_cert(), server->cert_pem + ca->cert_pem, 0644}}) {
    if (Status st = WriteNew(path, data, mode, &undo); !st.ok()) return Fail(st);
  }

  storage::OpenOptions options;
  options.create = true;
  options.busy_timeout_ms = cfg->database.busy_timeout_ms;
  undo.Created(layout.database());
  undo.Created(layout.database() + "-wal");
  undo.Created(layout.database() + "-shm");
  Result<std::unique_ptr<storage::Database>> db =
      storage::Database::Open(layout.database(), options);
  if (!db.ok()) return Fail(db.status());
  domain::Accounts accounts(db->get(), SystemClock(), policy);
  std::string display = args.display_name.empty() ? admin : args.display_name;
  Result<domain::User> user =
      accounts.Create(admin, display, domain::kRoleAdmin, password->value());
  if (!user.ok()) return Fail(user.status());
  if (Status st = JoinDefaultRooms(db->get(), *cfg, user->id); !st.ok()) return Fail(st);
  {
    // The log opens with the appliance's birth, signed at once; if it cannot, nothing is kept.
    CommandAudit audit(db->get(), *cfg);
    Status st = audit.Record("appliance.init", "", Status::Ok(), {{"hosts", hosts}});
    if (st.ok()) {
      st = audit.Record("user.create", "user:" + admin, Status::Ok(), {{"role", "admin"}});
    }
    if (st.ok()) st = audit.log().Checkpoint();
    if (!st.ok()) return Fail(st);
  }
  if (Status st = (*db)->Checkpoint(); !st.ok()) return Fail(st);
  db->reset();
  undo.Commit();

  std::cout << "Initialized " << layout.root << "\n"
            << "  administrator: " << admin << "\n"
            << "  site CA (give it to browsers to trust): " << layout.ca_cert() << "\n"
            << "  server certificate for:";
  for (const std::string& h : hosts) std::cout << " " << h;
  std::cout << "\nStart the server with: outpost serve --data " << layout.root << "\n";
  return kExitOk;
}

}  // namespace

void AddInitCommand(CLI::App* app, GlobalOptions* global, Action* action) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* cmd = AddSubcommand(app, "init", "Create a new data folder with keys, certificates "
                                             "and the first administrator");
  cmd->add_option("--admin", args->admin, "User name of the first administrator");
  cmd->add_option("--display-name", args->display_name, "Display name of the administrator");
  cmd->add_option("--password-file", args->password_file,
                  "Read the administrator's password from the first line of FILE ('-': stdin)");
  cmd->add_option("--host", args->hosts,
                  "Host name or IP address for the server certificate (repeatable; default: "
                  "server.host_names)");
  cmd->callback([global, args, action] {
    *action = [global, args] { return RunInit(*global, *args); };
  });
}

}  // namespace outpost::cli
