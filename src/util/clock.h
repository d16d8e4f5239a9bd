// The clock seam: everything that depends on the time of day takes a Clock, so tests can use a
// FakeClock for session expiry and lockout windows.
#ifndef OUTPOST_UTIL_CLOCK_H_
#define OUTPOST_UTIL_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace outpost {

// Milliseconds since the Unix epoch, UTC.
using UnixMillis = int64_t;

// Thread-safe: implementations may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixMillis NowMillis() const = 0;
};

// The real wall clock. Returns a process-wide instance; never null, never freed.
const Clock* SystemClock();

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(UnixMillis start = 1'790'000'000'000) : now_(start) {}
  UnixMillis NowMillis() const override { return now_.load(); }
  void Advance(int64_t millis) { now_ += millis; }
  void Set(UnixMillis t) { now_ = t; }

 private:
  std::atomic<UnixMillis> now_;
};

// "2026-11-23T01:02:03.456Z" (ISO 8601, UTC, millisecond precision).
std::string FormatIso8601(UnixMillis t);

}  // namespace outpost

#endif  // OUTPOST_UTIL_CLOCK_H_
