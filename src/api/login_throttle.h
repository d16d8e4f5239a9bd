// A per-address limit on login attempts, against password guessing and spraying from one
// address. Counts attempts in fixed one-minute windows.
#ifndef OUTPOST_API_LOGIN_THROTTLE_H_
#define OUTPOST_API_LOGIN_THROTTLE_H_

#include <mutex>
#include <string>
#include <unordered_map>

#include "util/clock.h"

namespace outpost::api {

// Thread-safe.
class LoginThrottle {
 public:
  LoginThrottle(const Clock* clock, int per_minute) : clock_(clock), per_minute_(per_minute) {}

  // Counts an attempt from `address`; false when the address is over its limit this minute.
  bool Allow(const std::string& address);

 private:
  struct Window {
    UnixMillis start = 0;
    int count = 0;
  };
  const Clock* const clock_;
  const int per_minute_;
  std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;  // guarded by mu_
};

}  // namespace outpost::api

#endif  // OUTPOST_API_LOGIN_THROTTLE_H_
