// What the code over mbedTLS shares: an owner for one context, and readers of certificate
// fields (names and times).
#ifndef OUTPOST_NET_MBED_H_
#define OUTPOST_NET_MBED_H_

#include <mbedtls/x509.h>

#include <cstdint>
#include <string>

namespace outpost::net {

// Owns one mbedTLS context: Init in the constructor, Free in the destructor. mbedTLS keeps
// pointers between contexts (config -> cert, DRBG), so these neither copy nor move.
template <typename T, void (*Init)(T*), void (*Free)(T*)>
class Mbed {
 public:
  Mbed() { Init(&value_); }
  ~Mbed() { Free(&value_); }
  Mbed(const Mbed&) = delete;
  Mbed& operator=(const Mbed&) = delete;
  T* get() { return &value_; }
  const T* get() const { return &value_; }

 private:
  T value_;
};

// A distinguished name as mbedTLS writes it ("CN=..., O=..."); "" when it does not fit 1 KiB.
inline std::string X509DnString(const mbedtls_x509_name* name) {
  char buf[1024];
  int n = mbedtls_x509_dn_gets(buf, sizeof(buf), name);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil);
// pure arithmetic, so no time zone data is needed inside the chroot.
inline int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// A certificate time (UTC) in seconds since the epoch.
inline int64_t X509TimeToUnix(const mbedtls_x509_time& t) {
  return DaysFromCivil(t.year, t.mon, t.day) * 86400 + t.hour * 3600 + t.min * 60 + t.sec;
}

}  // namespace outpost::net

#endif  // OUTPOST_NET_MBED_H_
