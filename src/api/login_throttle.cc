#include "api/login_throttle.h"

namespace outpost::api {
namespace {

constexpr int64_t kWindowMs = 60 * 1000;

}  // namespace

bool LoginThrottle::Allow(const std::string& address) {
  UnixMillis now = clock_->NowMillis();
  std::lock_guard<std::mutex> lock(mu_);
  if (windows_.size() > kSweepAbove) {
    for (auto it = windows_.begin(); it != windows_.end();) {
      it = now - it->second.start >= kWindowMs ? windows_.erase(it) : std::next(it);
    }
  }
  Window& w = windows_[address];
  if (now - w.start >= kWindowMs) {
    w.start = now;
    w.count = 0;
  }
  if (w.count >= per_minute_) return false;
  ++w.count;
  return true;
}

bool LoginThrottle::AllowUserName(const std::string& address, std::string_view username) {
  if (names_per_window_ <= 0) return true;
  // User names are at most 64 characters; anything longer is not one, and is kept short so
  // that the sets stay small.
  std::string name(username.substr(0, 64));
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  UnixMillis now = clock_->NowMillis();
  std::lock_guard<std::mutex> lock(mu_);
  if (names_.size() > kSweepAbove) {
    for (auto it = names_.begin(); it != names_.end();) {
      it = now - it->second.start >= names_window_ms_ ? names_.erase(it) : std::next(it);
    }
  }
  Names& n = names_[address];
  if (now - n.start >= names_window_ms_) {
    n.start = now;
    n.names.clear();
  }
  if (n.names.count(name) > 0) return true;
  if (static_cast<int>(n.names.size()) >= names_per_window_) return false;
  n.names.insert(std::move(name));
  return true;
}

size_t LoginThrottle::TrackedNameAddresses() {
  std::lock_guard<std::mutex> lock(mu_);
  return names_.size();
}

}  // namespace outpost::api
