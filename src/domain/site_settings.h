// Site settings that administrators may change while the server runs: the classification
// banner (text and color) and the sign-in notice. The configuration file gives the defaults;
// the admin console's changes are rows of the `settings` table ("site.banner_text",
// "site.banner_color", "site.login_notice") that override them until reset, and survive
// restarts. Nothing else is changeable at runtime here: settings whose change would need a
// restart (listeners, TLS, paths) or weaken security unnoticed stay in the file.
#ifndef OUTPOST_DOMAIN_SITE_SETTINGS_H_
#define OUTPOST_DOMAIN_SITE_SETTINGS_H_

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/audit.h"
#include "storage/database.h"
#include "util/status.h"

namespace outpost::domain {

// What /api/v1/site shows. Plain value.
struct SiteText {
  std::string banner_text;           // 0..200 bytes, no control characters; "": no banner
  std::string banner_color = "green";  // green, blue, red, orange, yellow or purple
  std::string login_notice;          // 0..20000 bytes; newlines and tabs allowed; "": none
  bool operator==(const SiteText&) const = default;
};

// One change: an absent member stays as it is; a member holding nullopt inside goes back to the
// configuration file's value (its row is deleted).
struct SiteTextUpdate {
  std::optional<std::optional<std::string>> banner_text, banner_color, login_notice;
};

// The setting keys, in a stable order.
inline constexpr std::string_view kSiteSettingKeys[] = {"banner_text", "banner_color",
                                                        "login_notice"};

// Thread-safe: Current() may be called from every request thread while Update() runs; a reader
// sees either the whole old or the whole new text. `db` and `audit` must outlive it; `audit`
// may be null (nothing audited: tests of other layers).
class SiteSettings {
 public:
  // `defaults` are the configuration file's values; `notice_required` is true when sign-in
  // requires consent to the notice ([site] require_consent), so it may not become empty.
  SiteSettings(storage::Database* db, AuditLog* audit, SiteText defaults, bool notice_required);

  // Reads the overrides from the database. Corruption when a stored value no longer passes
  // validation (the row names the key). Call once before serving.
  Status Load();

  // The text in force now (a copy).
  SiteText Current() const;
  const SiteText& defaults() const { return defaults_; }
  // The keys whose value comes from the database rather than the file.
  std::vector<std::string> Overridden() const;

  // Validates every member of `update` (InvalidArgument naming the key and the rule; nothing
  // changes), then stores it and appends `event` (its action, actor and address; the details
  // get "keys": the changed key names, never the values) in one transaction, and only then
  // applies it. InvalidArgument for an empty update. Returns the text now in force.
  Result<SiteText> Update(const SiteTextUpdate& update, AuditEvent event);

 private:
  storage::Database* const db_;
  AuditLog* const audit_;
  const SiteText defaults_;
  const bool notice_required_;

  std::mutex update_mu_;  // held for a whole Update; always taken before mu_
  mutable std::mutex mu_;
  SiteText current_;                    // guarded by mu_; defaults_ with overrides_ applied
  std::vector<std::string> overrides_;  // guarded by mu_; keys stored in the database
};

// The rule for each key: OK, or InvalidArgument naming the key. Exposed for tests.
Status CheckSiteSetting(std::string_view key, std::string_view value);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_SITE_SETTINGS_H_
