// The per-address sign-in limits: attempts per minute, and distinct user names per window
// (the password-spraying guard).
#include <catch2/catch.hpp>

#include "api/login_throttle.h"

namespace outpost::api {
namespace {

constexpr int64_t kMinute = 60 * 1000;

TEST_CASE("one address may try only so many different user names in the window",
          "[unit][api][throttle]") {
  FakeClock clock;
  LoginThrottle throttle(&clock, 1000, 3, 15 * kMinute);
  CHECK(throttle.AllowUserName("192.0.2.1", "alice"));
  CHECK(throttle.AllowUserName("192.0.2.1", "bob"));
  CHECK(throttle.AllowUserName("192.0.2.1", "carol"));
  CHECK_FALSE(throttle.AllowUserName("192.0.2.1", "dave"));  // a fourth name: spraying
  // Names already tried stay allowed (someone retyping their password), in any case.
  CHECK(throttle.AllowUserName("192.0.2.1", "ALICE"));
  CHECK(throttle.AllowUserName("192.0.2.1", "carol"));
  // Other addresses have their own count.
  CHECK(throttle.AllowUserName("192.0.2.2", "dave"));
  // The window ends, and the count starts again.
  clock.Advance(15 * kMinute - 1);
  CHECK_FALSE(throttle.AllowUserName("192.0.2.1", "erin"));
  clock.Advance(1);
  CHECK(throttle.AllowUserName("192.0.2.1", "erin"));
  CHECK(throttle.AllowUserName("192.0.2.1", "frank"));
  CHECK(throttle.AllowUserName("192.0.2.1", "grace"));
  CHECK_FALSE(throttle.AllowUserName("192.0.2.1", "alice"));
}

TEST_CASE("the spraying guard can be turned off, and the per-minute limit still holds",
          "[unit][api][throttle]") {
  FakeClock clock;
  LoginThrottle throttle(&clock, 2, 0);
  for (int i = 0; i < 50; ++i) CHECK(throttle.AllowUserName("192.0.2.1", "u" + std::to_string(i)));
  CHECK(throttle.Allow("192.0.2.1"));
  CHECK(throttle.Allow("192.0.2.1"));
  CHECK_FALSE(throttle.Allow("192.0.2.1"));
  clock.Advance(kMinute);
  CHECK(throttle.Allow("192.0.2.1"));
}

TEST_CASE("the spraying guard's memory stays bounded under a flood of addresses",
          "[unit][api][throttle]") {
  FakeClock clock;
  LoginThrottle throttle(&clock, 1000, 2, kMinute);
  for (size_t i = 0; i <= LoginThrottle::kSweepAbove + 1; ++i) {
    REQUIRE(throttle.AllowUserName("10.0." + std::to_string(i), "x"));
  }
  CHECK(throttle.TrackedNameAddresses() == LoginThrottle::kSweepAbove + 2);
  clock.Advance(kMinute);
  // After the window every old entry is stale; the next call sweeps them, and an address seen
  // before starts from nothing.
  CHECK(throttle.AllowUserName("10.0.0", "a"));
  CHECK(throttle.TrackedNameAddresses() == 1);
  CHECK(throttle.AllowUserName("10.0.0", "b"));
  CHECK_FALSE(throttle.AllowUserName("10.0.0", "c"));
}

}  // namespace
}  // namespace outpost::api
