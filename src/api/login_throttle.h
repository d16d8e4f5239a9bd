// Per-address limits on sign-in, against password guessing and spraying from one address:
// attempts per minute (fixed one-minute windows), and how many different user names one
// address may try within a longer window (spraying tries one or two passwords against many
// names, which the per-account lockout never sees).
#ifndef OUTPOST_API_LOGIN_THROTTLE_H_
#define OUTPOST_API_LOGIN_THROTTLE_H_

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "util/clock.h"

namespace outpost::api {

// Thread-safe. `clock` must outlive it. Memory stays bounded under a flood from many
// addresses: past kSweepAbove tracked addresses, stale windows are dropped.
class LoginThrottle {
 public:
  // `user_names_per_window` 0 turns the spraying guard off.
  LoginThrottle(const Clock* clock, int per_minute, int user_names_per_window = 0,
                int64_t user_names_window_ms = 15 * 60 * 1000)
      : clock_(clock),
        per_minute_(per_minute),
        names_per_window_(user_names_per_window),
        names_window_ms_(user_names_window_ms) {}

  // Counts an attempt from `address`; false when the address is over its limit this minute.
  bool Allow(const std::string& address);

  // Counts `username` (compared without regard to case) among the names tried from `address`
  // in the current window. False when it is a name not yet tried there and the address has
  // already tried its limit of names; a name tried before is always allowed, so that someone
  // retyping their own password is never refused by this guard.
  bool AllowUserName(const std::string& address, std::string_view username);

  // Addresses the spraying guard keeps names for (stale ones included until a sweep).
  size_t TrackedNameAddresses();

  static constexpr size_t kSweepAbove = 10000;

 private:
  struct Window {
    UnixMillis start = 0;
    int count = 0;
  };
  struct Names {
    UnixMillis start = 0;
    std::unordered_set<std::string> names;  // at most names_per_window_ entries
  };
  const Clock* const clock_;
  const int per_minute_;
  const int names_per_window_;
  const int64_t names_window_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;  // guarded by mu_
  std::unordered_map<std::string, Names> names_;     // guarded by mu_
};

}  // namespace outpost::api

#endif  // OUTPOST_API_LOGIN_THROTTLE_H_
