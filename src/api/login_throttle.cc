#include "api/login_throttle.h"

namespace outpost::api {
namespace {

constexpr int64_t kWindowMs = 60 * 1000;
// Past this many tracked addresses, stale windows are dropped so the map cannot grow without
// bound under a flood from many addresses.
constexpr size_t kSweepAbove = 10000;

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

}  // namespace outpost::api
