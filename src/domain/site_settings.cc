#include "domain/site_settings.h"

#include <algorithm>
#include <array>
#include <utility>

#include "domain/passwords.h"

namespace outpost::domain {
namespace {

constexpr std::string_view kPrefix = "site.";
// The classification colors [site] banner_color accepts (config.cc).
constexpr std::array<std::string_view, 6> kColors = {"green",  "blue",   "red",
                                                     "orange", "yellow", "purple"};

bool HasControl(std::string_view s, std::string_view allowed) {
  return std::any_of(s.begin(), s.end(), [&](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 || u == 0x7f) && allowed.find(c) == std::string_view::npos;
  });
}

std::string* Member(SiteText& t, std::string_view key) {
  if (key == "banner_text") return &t.banner_text;
  if (key == "banner_color") return &t.banner_color;
  return &t.login_notice;
}
const std::string& Member(const SiteText& t, std::string_view key) {
  if (key == "banner_text") return t.banner_text;
  if (key == "banner_color") return t.banner_color;
  return t.login_notice;
}

const std::optional<std::optional<std::string>>* Change(const SiteTextUpdate& u,
                                                         std::string_view key) {
  if (key == "banner_text") return &u.banner_text;
  if (key == "banner_color") return &u.banner_color;
  return &u.login_notice;
}

}  // namespace

Status CheckSiteSetting(std::string_view key, std::string_view value) {
  const std::string name(key);
  if (Utf8Length(value) < 0) return Status::InvalidArgument(name + " is not valid UTF-8 text");
  if (key == "banner_text") {
    if (value.size() > 200) return Status::InvalidArgument(name + " must be at most 200 bytes");
    if (HasControl(value, "")) {
      return Status::InvalidArgument(name + " must be one line without control characters");
    }
    return Status::Ok();
  }
  if (key == "banner_color") {
    if (std::find(kColors.begin(), kColors.end(), value) != kColors.end()) return Status::Ok();
    return Status::InvalidArgument(name +
                                   " must be one of green, blue, red, orange, yellow, purple");
  }
  if (key == "login_notice") {
    if (value.size() > 20000) {
      return Status::InvalidArgument(name + " must be at most 20000 bytes");
    }
    if (HasControl(value, "\n\r\t")) {
      return Status::InvalidArgument(
          name + " must not contain control characters other than newlines and tabs");
    }
    return Status::Ok();
  }
  return Status::InvalidArgument("unknown setting '" + name + "'");
}

SiteSettings::SiteSettings(storage::Database* db, AuditLog* audit, SiteText defaults,
                           bool notice_required)
    : db_(db),
      audit_(audit),
      defaults_(std::move(defaults)),
      notice_required_(notice_required),
      current_(defaults_) {}

Status SiteSettings::Load() {
  SiteText text = defaults_;
  std::vector<std::string> overrides;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s,
                             conn.Prepare("SELECT value FROM settings WHERE key = ?"));
    for (std::string_view key : kSiteSettingKeys) {
      s.Reset();
      s.Bind(1, std::string(kPrefix) + std::string(key));
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) continue;
      std::string value = s.ColumnText(0);
      if (Status st = CheckSiteSetting(key, value); !st.ok()) {
        return Status::Corruption("stored setting site." + std::string(key) +
                                  " is invalid: " + st.message());
      }
      *Member(text, key) = std::move(value);
      overrides.emplace_back(key);
    }
    return Status::Ok();
  }));
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(text);
  overrides_ = std::move(overrides);
  return Status::Ok();
}

SiteText SiteSettings::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::vector<std::string> SiteSettings::Overridden() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overrides_;
}

Result<SiteText> SiteSettings::Update(const SiteTextUpdate& update, AuditEvent event) {
  // One Update at a time, so that two administrators' changes apply in commit order and the
  // consent check below sees the text it changes.
  std::lock_guard<std::mutex> serial(update_mu_);
  std::vector<std::string> keys;
  SiteText next = Current();
  for (std::string_view key : kSiteSettingKeys) {
    const auto* change = Change(update, key);
    if (!change->has_value()) continue;
    const std::optional<std::string>& value = **change;
    if (value) OUTPOST_RETURN_IF_ERROR(CheckSiteSetting(key, *value));
    *Member(next, key) = value ? *value : Member(defaults_, key);
    keys.emplace_back(key);
  }
  if (keys.empty()) {
    return Status::InvalidArgument(
        "name at least one of banner_text, banner_color, login_notice");
  }
  if (notice_required_ && next.login_notice.empty()) {
    return Status::InvalidArgument(
        "login_notice cannot be empty while [site] require_consent is on");
  }
  event.details["keys"] = keys;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement put,
        conn.Prepare("INSERT INTO settings(key, value) VALUES(?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement del,
                             conn.Prepare("DELETE FROM settings WHERE key = ?"));
    for (std::string_view key : kSiteSettingKeys) {
      const auto* change = Change(update, key);
      if (!change->has_value()) continue;
      const std::string row = std::string(kPrefix) + std::string(key);
      if (**change) {
        put.Reset();
        put.Bind(1, row).Bind(2, ***change);
        OUTPOST_RETURN_IF_ERROR(put.Run());
      } else {
        del.Reset();
        del.Bind(1, row);
        OUTPOST_RETURN_IF_ERROR(del.Run());
      }
    }
    return audit_ != nullptr ? audit_->AppendIn(conn, event) : Status::Ok();
  }));
  std::lock_guard<std::mutex> lock(mu_);
  for (std::string_view key : kSiteSettingKeys) {
    const auto* change = Change(update, key);
    if (!change->has_value()) continue;
    *Member(current_, key) = Member(std::as_const(next), key);
    auto it = std::find(overrides_.begin(), overrides_.end(), key);
    if (**change && it == overrides_.end()) overrides_.emplace_back(key);
    if (!**change && it != overrides_.end()) overrides_.erase(it);
  }
  return current_;
}

}  // namespace outpost::domain
