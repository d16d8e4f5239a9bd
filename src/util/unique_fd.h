// Closes a file descriptor when it goes out of scope.
#ifndef OUTPOST_UTIL_UNIQUE_FD_H_
#define OUTPOST_UTIL_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace outpost {

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  // Gives the descriptor up without closing it.
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace outpost

#endif  // OUTPOST_UTIL_UNIQUE_FD_H_
