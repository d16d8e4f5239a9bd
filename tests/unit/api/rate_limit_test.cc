// The per-account token buckets behind [chat] posts_per_minute and [files] uploads_per_minute.
#include <catch2/catch.hpp>

#include "api/rate_limit.h"

namespace outpost::api {
namespace {

TEST_CASE("a bucket allows a burst of per_minute, then refills evenly, per account",
          "[unit][api]") {
  FakeClock clock;
  RateLimiter limit(&clock, 6);  // one token every 10 s
  for (int i = 0; i < 6; ++i) CHECK(limit.Take(1) == 0);
  CHECK(limit.Take(1) == 10);  // refused, nothing taken: 10 s until the next token
  CHECK(limit.Take(2) == 0);   // another account has its own bucket
  clock.Advance(4000);
  CHECK(limit.Take(1) == 6);
  clock.Advance(6000);
  CHECK(limit.Take(1) == 0);
  CHECK(limit.Take(1) == 10);
  clock.Advance(60 * 60 * 1000);  // a long rest refills to the burst, no more
  for (int i = 0; i < 6; ++i) CHECK(limit.Take(1) == 0);
  CHECK(limit.Take(1) > 0);
  clock.Advance(-30000);  // the clock stepped back: no refill, no crash
  CHECK(limit.Take(1) > 0);
}

TEST_CASE("a limit of 0 allows everything", "[unit][api]") {
  FakeClock clock;
  RateLimiter off(&clock, 0);
  for (int i = 0; i < 1000; ++i) REQUIRE(off.Take(1) == 0);
}

}  // namespace
}  // namespace outpost::api
