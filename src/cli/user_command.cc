// outpost user add|list|disable|enable|reset-password|set-role|unlock|token|export|erase: account
// administration from the appliance's shell, and the data-subject tools (domain/gdpr.h).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "cli/smartcard.h"
#include "cli/two_factor_command.h"
#include "domain/gdpr.h"
#include "domain/permissions.h"
#include "domain/sessions.h"

namespace outpost::cli {
namespace {

struct UserArgs {
  std::string name;
  std::string display_name;
  std::string role = domain::kRoleUser;
  std::string password_file;
  std::string token_name;
  int expires_days = 0;
  int64_t token_id = 0;
  bool json = false;
  std::string out;
  bool force = false;
  bool yes = false;
};

// Runs `fn` with the database, accounts and audit log of the configured data folder.
int WithAccounts(
    const GlobalOptions& global,
    const std::function<int(storage::Database&, domain::Accounts&, CommandAudit&)>& fn) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  Result<std::unique_ptr<storage::Database>> db = OpenDatabase(*cfg);
  if (!db.ok()) return Fail(db.status());
  domain::Accounts accounts(db->get(), SystemClock(), AccountPolicyFor(*cfg));
  CommandAudit audit(db->get(), *cfg);
  return fn(**db, accounts, audit);
}

// For commands that only take access away: never refused for want of an audit record (that
// would leave the access in place); a lost record is reported on stderr.
void RecordAnyway(CommandAudit& audit, const std::string& action, const std::string& target,
                  const Status& result, nlohmann::json details = nlohmann::json::object()) {
  if (Status st = audit.Record(action, target, result, std::move(details)); !st.ok()) {
    std::cerr << "outpost: warning: " << st.message() << "\n";
  }
}

int Add(const GlobalOptions& global, const UserArgs& a) {
  return WithAccounts(global, [&](storage::Database& db, domain::Accounts& accounts,
                                  CommandAudit& audit) {
    if (Status st = domain::CheckUsername(a.name); !st.ok()) return Fail(st);
    // Any role id, built-in or custom, that exists when the account is made.
    domain::Roles roles(&db);
    if (Status st = roles.Load(); !st.ok()) return Fail(st);
    if (!roles.Exists(a.role)) {
      return Fail(Status::InvalidArgument("unknown role '" + a.role +
                                          "' (outpost role list shows the roles)"));
    }
    if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    Result<SecretString> pw = ReadPassword(a.password_file, "Password for " + a.name + ": ", true);
    if (!pw.ok()) return Fail(pw.status());
    Result<domain::User> user = accounts.Create(
        a.name, a.display_name.empty() ? a.name : a.display_name, a.role, pw->value());
    Status audited = audit.Record("user.create", "user:" + a.name, user.status(),
                                  {{"role", a.role}});
    if (!user.ok()) return Fail(user.status());
    if (!audited.ok()) return Fail(audited);
    Result<config::Config> cfg = LoadConfig(global);
    if (!cfg.ok()) return ConfigFailure(cfg.status());
    if (Status st = JoinDefaultRooms(&db, *cfg, user->id); !st.ok()) return Fail(st);
    std::cout << "created user " << user->username << " (" << user->role << ")\n";
    return int{kExitOk};
  });
}

int List(const GlobalOptions& global, const UserArgs& a) {
  return WithAccounts(global, [&](storage::Database&, domain::Accounts& accounts,
                                  CommandAudit&) {
    Result<std::vector<domain::User>> users = accounts.List();
    if (!users.ok()) return Fail(users.status());
    if (a.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& u : *users) {
        out.push_back({{"id", u.id},
                       {"username", u.username},
                       {"display_name", u.display_name},
                       {"role", u.role},
                       {"disabled", u.disabled},
                       {"created_at", FormatIso8601(u.created_at)}});
      }
      std::cout << out.dump(2) << "\n";
      return int{kExitOk};
    }
    std::cout << std::left << std::setw(24) << "USER" << std::setw(14) << "ROLE" << std::setw(10)
              << "STATE" << "DISPLAY NAME\n";
    for (const auto& u : *users) {
      std::cout << std::setw(24) << u.username << std::setw(14) << u.role << std::setw(10)
                << (u.disabled ? "disabled" : "active") << u.display_name << "\n";
    }
    return int{kExitOk};
  });
}

int SetDisabled(const GlobalOptions& global, const UserArgs& a, bool disabled) {
  return WithAccounts(global, [&](storage::Database&, domain::Accounts& accounts,
                                  CommandAudit& audit) {
    const std::string target = "user:" + a.name;
    if (disabled) {
      Status st = accounts.SetDisabled(a.name, true);
      RecordAnyway(audit, "user.disable", target, st);
      if (!st.ok()) return Fail(st);
    } else {
      if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
      Status st = accounts.SetDisabled(a.name, false);
      Status audited = audit.Record("user.enable", target, st);
      if (!st.ok()) return Fail(st);
      if (!audited.ok()) {
        (void)accounts.SetDisabled(a.name, true);  // no unaudited access granted
        return Fail(audited);
      }
    }
    std::cout << (disabled ? "disabled " : "enabled ") << a.name
              << (disabled ? " (their sessions have ended)" : "") << "\n";
    return int{kExitOk};
  });
}

int SetRole(const GlobalOptions& global, const UserArgs& a) {
  return WithAccounts(global, [&](storage::Database& db, domain::Accounts&, CommandAudit& audit) {
    domain::Roles roles(&db);
    if (Status st = roles.Load(); !st.ok()) return Fail(st);
    if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    Result<std::string> before = roles.AssignToUser(a.name, a.role, *SystemClock());
    nlohmann::json details = {{"to", a.role}};
    if (before.ok()) details["from"] = *before;
    Status audited = audit.Record("user.role_changed", "user:" + a.name, before.status(), details);
    if (!before.ok()) return Fail(before.status());
    if (!audited.ok()) return Fail(audited);
    std::cout << a.name << ": role " << *before << " -> " << a.role << "\n";
    return int{kExitOk};
  });
}

int ResetPassword(const GlobalOptions& global, const UserArgs& a) {
  return WithAccounts(global, [&](storage::Database&, domain::Accounts& accounts,
                                  CommandAudit& audit) {
    if (Result<domain::User> u = accounts.FindByName(a.name); !u.ok()) return Fail(u.status());
    if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    Result<SecretString> pw =
        ReadPassword(a.password_file, "New password for " + a.name + ": ", true);
    if (!pw.ok()) return Fail(pw.status());
    Status st = accounts.ResetPassword(a.name, pw->value());
    Status audited = audit.Record("user.password_reset", "user:" + a.name, st);
    if (!st.ok()) return Fail(st);
    if (!audited.ok()) return Fail(audited);
    std::cout << "password of " << a.name << " changed; their sessions have ended\n";
    return int{kExitOk};
  });
}

// Ends a lockout (auth.unlock) and resets the failed sign-ins. Gives access back, so it is
// refused when its audit record cannot be written.
int Unlock(const GlobalOptions& global, const UserArgs& a) {
  return WithAccounts(global, [&](storage::Database&, domain::Accounts& accounts,
                                  CommandAudit& audit) {
    Result<domain::LockState> lock = accounts.GetLockState(a.name);
    if (!lock.ok()) return Fail(lock.status());
    if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    bool was_locked = false;
    Status st = accounts.Unlock(a.name, &was_locked);
    Status audited = audit.Record("auth.unlock", "user:" + a.name, st,
                                  {{"reason", "administrator"}, {"was_locked", was_locked}});
    if (!st.ok()) return Fail(st);
    if (!audited.ok()) return Fail(audited);
    if (was_locked) {
      std::cout << "unlocked " << a.name << " (locked since " << FormatIso8601(lock->locked_at)
                << (lock->locked_until != 0 ? ", until " + FormatIso8601(lock->locked_until)
                                            : std::string(", until unlocked"))
                << ")\n";
    } else {
      std::cout << a.name << " was not locked; its " << lock->recent_failures
                << " recent failed sign-in(s) no longer count\n";
    }
    return int{kExitOk};
  });
}

int TokenCreate(const GlobalOptions& global, const UserArgs& a) {
  return WithAccounts(global, [&](storage::Database& db, domain::Accounts& accounts,
                                  CommandAudit& audit) {
    Result<domain::User> u = accounts.FindByName(a.name);
    if (!u.ok()) return Fail(u.status());
    if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    domain::ApiTokens tokens(&db, SystemClock());
    int64_t expires = a.expires_days > 0
                          ? SystemClock()->NowMillis() + int64_t{a.expires_days} * 86400 * 1000
                          : 0;
    std::string secret;
    Result<domain::ApiToken> t = tokens.Create(u->id, a.token_name, expires, &secret);
    Status audited = audit.Record("token.create",
                                  t.ok() ? "token:" + std::to_string(t->id) : "token",
                                  t.status(), {{"user", u->username}, {"name", a.token_name}});
    if (!t.ok()) return Fail(t.status());
    if (!audited.ok()) {
      WipeString(&secret);
      (void)tokens.Revoke(u->id, t->id);  // never shown: no unaudited token
      return Fail(audited);
    }
    // The secret goes to stdout alone so that scripts can capture it; it is shown only once.
    std::cout << secret << "\n";
    WipeString(&secret);
    std::cerr << "API token " << t->id << " created for " << u->username
              << "; store it now, it cannot be shown again\n";
    return int{kExitOk};
  });
}

int TokenList(const GlobalOptions& global, const UserArgs& a) {
  return WithAccounts(global, [&](storage::Database& db, domain::Accounts& accounts,
                                  CommandAudit&) {
    Result<domain::User> u = accounts.FindByName(a.name);
    if (!u.ok()) return Fail(u.status());
    domain::ApiTokens tokens(&db, SystemClock());
    Result<std::vector<domain::ApiToken>> list = tokens.List(u->id);
    if (!list.ok()) return Fail(list.status());
    for (const auto& t : *list) {
      std::cout << t.id << "\t" << t.name << "\tcreated " << FormatIso8601(t.created_at)
                << "\tlast used " << (t.last_used_at ? FormatIso8601(t.last_used_at) : "never")
                << "\texpires " << (t.expires_at ? FormatIso8601(t.expires_at) : "never") << "\n";
    }
    return int{kExitOk};
  });
}

int TokenRevoke(const GlobalOptions& global, const UserArgs& a) {
  return WithAccounts(global, [&](storage::Database& db, domain::Accounts& accounts,
                                  CommandAudit& audit) {
    Result<domain::User> u = accounts.FindByName(a.name);
    if (!u.ok()) return Fail(u.status());
    domain::ApiTokens tokens(&db, SystemClock());
    Status st = tokens.Revoke(u->id, a.token_id);
    RecordAnyway(audit, "token.revoke", "token:" + std::to_string(a.token_id), st);
    if (!st.ok()) return Fail(st);
    std::cout << "revoked API token " << a.token_id << " of " << u->username << "\n";
    return int{kExitOk};
  });
}

// Runs `fn` with the personal-data tools of the configured data folder (which need the master
// key: exports decrypt files).
int WithPersonalData(
    const GlobalOptions& global,
    const std::function<int(domain::PersonalData&, domain::Accounts&, CommandAudit&)>& fn) {
  return WithFiles(global, [&](FilesContext& ctx) {
    domain::PersonalData data(ctx.db, SystemClock(), &ctx.files, ctx.keys.master_key.value());
    domain::Accounts accounts(ctx.db, SystemClock(), AccountPolicyFor(ctx.cfg));
    CommandAudit audit(ctx.db, ctx.cfg);
    return fn(data, accounts, audit);
  });
}

int Export(const GlobalOptions& global, const UserArgs& a) {
  return WithPersonalData(
      global, [&](domain::PersonalData& data, domain::Accounts& accounts, CommandAudit& audit) {
        Result<domain::User> u = accounts.FindByName(a.name);
        if (!u.ok()) return Fail(u.status());
        if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
        domain::ExportOptions options;
        options.out_path = a.out;
        options.force = a.force;
        Result<domain::ExportSummary> s = data.Export(u->username, options);
        nlohmann::json details = {{"file", a.out}};
        if (s.ok()) {
          details["messages"] = s->messages;
          details["files"] = s->files;
          details["bytes"] = s->archive_bytes;
        }
        Status audited = audit.Record("user.export", "user:" + u->username, s.status(), details);
        if (!s.ok()) return Fail(s.status());
        if (!audited.ok()) {
          ::unlink(a.out.c_str());  // no unaudited copy of someone's data
          return Fail(audited);
        }
        std::cout << "exported " << u->username << " to " << s->path << " (" << s->archive_bytes
                  << " bytes, mode 0600)\n"
                  << "  " << s->messages << " messages, " << s->reactions << " reactions, "
                  << s->files << " files (" << s->file_bytes << " bytes), " << s->memberships
                  << " rooms, " << s->sessions << " sessions, " << s->tokens << " API tokens, "
                  << s->audit_records << " audit records\n"
                  << "The archive is plaintext personal data: hand it over and delete it.\n";
        return int{kExitOk};
      });
}

int Erase(const GlobalOptions& global, const UserArgs& a) {
  return WithPersonalData(global, [&](domain::PersonalData& data, domain::Accounts& accounts,
                                      CommandAudit& audit) {
    Result<domain::User> u = accounts.FindByName(a.name);
    if (!u.ok()) return Fail(u.status());
    if (!a.yes) {
      std::string typed =
          AskLine("Erasing " + u->username + " cannot be undone. Type the user name to confirm: ");
      if (typed.empty()) {
        return Fail(Status::InvalidArgument(
            "erasure needs confirmation: type the user name on the terminal, or give --yes"));
      }
      if (typed != u->username) {
        return Fail(Status::InvalidArgument("the name typed does not match; nothing erased"));
      }
    }
    if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    Result<domain::EraseSummary> s = data.Erase(u->username);
    nlohmann::json details = nlohmann::json::object();
    if (s.ok()) {
      details = {{"user_id", s->user_id},     {"messages_kept", s->messages_kept},
                 {"reactions", s->reactions}, {"files", s->files},
                 {"blobs", s->blobs},         {"sessions", s->sessions},
                 {"tokens", s->tokens},       {"memberships", s->memberships}};
    }
    // The erasure cannot be undone: a lost record is reported, never a reason to fail it.
    RecordAnyway(audit, "user.erase", "user:" + u->username, s.status(), details);
    if (!s.ok()) return Fail(s.status());
    std::cout << "erased " << u->username << ": profile, " << s->sessions << " sessions, "
              << s->tokens << " API tokens, " << s->reactions << " reactions, " << s->files
              << " files (" << s->blobs << " stored blobs removed), " << s->memberships
              << " room memberships\n"
              << "  " << s->messages_kept
              << " messages they wrote stay in their rooms, shown as from a deleted user\n";
    return int{kExitOk};
  });
}

}  // namespace

void AddUserCommands(CLI::App* app, GlobalOptions* global, Action* action) {
  auto a = std::make_shared<UserArgs>();
  CLI::App* user = AddSubcommand(app, "user", "Manage local accounts");
  user->require_subcommand(1);
  auto bind = [&](CLI::App* cmd, std::function<int(const GlobalOptions&, const UserArgs&)> fn) {
    cmd->callback([global, a, action, fn] { *action = [global, a, fn] { return fn(*global, *a); }; });
  };

  CLI::App* add = AddSubcommand(user, "add", "Create an account");
  add->add_option("name", a->name, "User name")->required();
  add->add_option("--display-name", a->display_name, "Display name (default: the user name)");
  add->add_option("--role", a->role,
                  "Role id: admin, user-manager, moderator, user (default), guest, auditor, bot, "
                  "or a custom role (outpost role list)");
  add->add_option("--password-file", a->password_file, "Read the password from FILE ('-': stdin)");
  bind(add, Add);

  CLI::App* list = AddSubcommand(user, "list", "List accounts");
  list->add_flag("--json", a->json, "Print JSON");
  bind(list, List);

  CLI::App* disable = AddSubcommand(user, "disable", "Disable an account and end its sessions");
  disable->add_option("name", a->name, "User name")->required();
  bind(disable, [](const GlobalOptions& g, const UserArgs& x) { return SetDisabled(g, x, true); });

  CLI::App* enable = AddSubcommand(user, "enable", "Enable a disabled account");
  enable->add_option("name", a->name, "User name")->required();
  bind(enable, [](const GlobalOptions& g, const UserArgs& x) { return SetDisabled(g, x, false); });

  CLI::App* reset = AddSubcommand(user, "reset-password", "Set a new password; ends sessions");
  reset->add_option("name", a->name, "User name")->required();
  reset->add_option("--password-file", a->password_file,
                    "Read the password from FILE ('-': stdin)");
  bind(reset, ResetPassword);

  CLI::App* set_role = AddSubcommand(user, "set-role", "Give an account another role");
  set_role->add_option("name", a->name, "User name")->required();
  set_role->add_option("role", a->role, "Role id (outpost role list)")->required();
  bind(set_role, SetRole);

  CLI::App* unlock =
      AddSubcommand(user, "unlock", "End an account's lockout after failed sign-ins");
  unlock->add_option("name", a->name, "User name")->required();
  bind(unlock, Unlock);

  CLI::App* token = AddSubcommand(user, "token", "Manage API tokens for scripts and bots");
  token->require_subcommand(1);
  CLI::App* create = AddSubcommand(token, "create", "Create a token; prints the secret once");
  create->add_option("name", a->name, "User name")->required();
  create->add_option("--label", a->token_name, "What the token is for")->required();
  create->add_option("--expires-days", a->expires_days, "Days until it expires (default: never)")
      ->check(CLI::Range(1, 3650));
  bind(create, TokenCreate);
  CLI::App* tlist = AddSubcommand(token, "list", "List a user's tokens");
  tlist->add_option("name", a->name, "User name")->required();
  bind(tlist, TokenList);
  CLI::App* revoke = AddSubcommand(token, "revoke", "Revoke a token");
  revoke->add_option("name", a->name, "User name")->required();
  revoke->add_option("id", a->token_id, "Token id (from 'token list')")->required();
  bind(revoke, TokenRevoke);

  CLI::App* exp =
      AddSubcommand(user, "export", "Write everything about a person to one archive (plaintext)");
  exp->add_option("name", a->name, "User name")->required();
  exp->add_option("--out", a->out, "Archive to write (a tar, mode 0600)")->required();
  exp->add_flag("--force", a->force, "Replace an existing file");
  bind(exp, Export);

  CLI::App* erase =
      AddSubcommand(user, "erase", "Erase a person's data; their messages stay, authorless");
  erase->add_option("name", a->name, "User name")->required();
  erase->add_flag("--yes", a->yes, "Do not ask for confirmation");
  bind(erase, Erase);

  AddUserCertCommands(user, global, action);
  AddUserTwoFactorCommands(user, global, action);
}

}  // namespace outpost::cli
