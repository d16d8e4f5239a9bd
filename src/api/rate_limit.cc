#include "api/rate_limit.h"

#include <httplib.h>

#include <algorithm>

#include "api/http_status.h"

namespace outpost::api {
namespace {

// Past this many buckets, full ones are swept so that the map stays as small as the set of
// accounts active in the last minute.
constexpr size_t kSweepAbove = 4096;

}  // namespace

int64_t RateLimiter::Take(int64_t key) {
  if (per_minute_ <= 0) return 0;
  // Exact integer arithmetic: a token is kUnit units, and a millisecond refills per_minute_
  // units (per_minute_ tokens a minute).
  constexpr int64_t kUnit = 60000;
  const int64_t capacity = int64_t{per_minute_} * kUnit;
  const UnixMillis now = clock_->NowMillis();
  std::lock_guard<std::mutex> lock(mu_);
  auto refilled = [&](const Bucket& b) {
    const int64_t elapsed = std::max<int64_t>(0, now - b.at);  // a clock stepping back adds none
    return elapsed >= capacity / per_minute_ ? capacity
                                             : std::min(capacity, b.units + elapsed * per_minute_);
  };
  if (buckets_.size() > kSweepAbove) {
    std::erase_if(buckets_, [&](const auto& entry) { return refilled(entry.second) >= capacity; });
  }
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{capacity, now});
  Bucket& b = it->second;
  b.units = refilled(b);
  b.at = now;
  if (b.units >= kUnit) {
    b.units -= kUnit;
    return 0;
  }
  const int64_t wait_ms = (kUnit - b.units + per_minute_ - 1) / per_minute_;
  return std::max<int64_t>(1, (wait_ms + 999) / 1000);
}

void SetRateLimited(httplib::Response& res, int64_t retry_after_s, const std::string& what,
                    int per_minute) {
  res.status = 429;
  res.set_header("Retry-After", std::to_string(retry_after_s));
  res.set_content(ErrorBody("rate_limited", "too many " + what + ": at most " +
                                                std::to_string(per_minute) +
                                                " a minute; try again in " +
                                                std::to_string(retry_after_s) + " s"),
                  "application/json");
}

}  // namespace outpost::api
