// Owns one mbedTLS context: Init in the constructor, Free in the destructor. mbedTLS keeps
// pointers between contexts (config -> cert, DRBG), so these neither copy nor move.
#ifndef OUTPOST_NET_MBED_H_
#define OUTPOST_NET_MBED_H_

namespace outpost::net {

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

}  // namespace outpost::net

#endif  // OUTPOST_NET_MBED_H_
