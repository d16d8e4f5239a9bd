// Per-account token buckets for REST actions that write (posting, uploading): a burst of
// `per_minute` at once, then `per_minute` spread evenly over each minute. A caller over the
// limit gets 429 with code "rate_limited" and Retry-After. The WebSocket has its own limits
// ([realtime]); sign-in has the per-address LoginThrottle.
#ifndef OUTPOST_API_RATE_LIMIT_H_
#define OUTPOST_API_RATE_LIMIT_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "util/clock.h"
#include "util/status.h"

namespace httplib {
struct Response;
}

namespace outpost::api {

// Thread-safe. `clock` must outlive it.
class RateLimiter {
 public:
  // `per_minute` 0 allows everything.
  RateLimiter(const Clock* clock, int per_minute) : clock_(clock), per_minute_(per_minute) {}

  // Takes one token from `key`'s bucket. Returns 0 when allowed, else the whole seconds
  // (at least 1) until a token is back; nothing is taken then.
  int64_t Take(int64_t key);

  int per_minute() const { return per_minute_; }

 private:
  struct Bucket {
    int64_t units = 0;  // tokens * 60000, at most per_minute tokens
    UnixMillis at = 0;  // when `units` was computed
  };
  const Clock* const clock_;
  const int per_minute_;
  std::mutex mu_;
  std::unordered_map<int64_t, Bucket> buckets_;  // guarded by mu_; full buckets are dropped
};

// Fills `res` with 429, Retry-After: `retry_after_s` and the JSON error
// {"error": {"code": "rate_limited", "message": ...}} naming `what` ("posts", "uploads").
void SetRateLimited(httplib::Response& res, int64_t retry_after_s, const std::string& what,
                    int per_minute);

}  // namespace outpost::api

#endif  // OUTPOST_API_RATE_LIMIT_H_
