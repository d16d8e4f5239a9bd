#include "domain/breached_passwords.h"

#include <string>

namespace outpost::domain {

bool IsBreachedPassword(std::string_view password) {
  return IsBreachedPassword(password, EmbeddedBreachedList());
}

bool IsBreachedPassword(std::string_view password, const BreachedList& list) {
  if (password.empty() || password.find('\n') != std::string_view::npos) return false;
  std::string key(password);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  // Bisection over byte offsets of the '\n'-separated blob: the entry holding the middle byte
  // starts after the previous '\n', so no index of line starts is needed.
  const std::string_view blob = list.sorted;
  size_t lo = 0, hi = blob.size();  // entries starting in [lo, hi) remain; lo is a line start
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    size_t start = blob.rfind('\n', mid == 0 ? 0 : mid - 1);
    start = (start == std::string_view::npos || start < lo) ? lo : start + 1;
    if (mid == 0) start = 0;
    size_t end = blob.find('\n', start);
    if (end == std::string_view::npos) end = blob.size();
    std::string_view entry = blob.substr(start, end - start);
    int cmp = std::string_view(key).compare(entry);
    if (cmp == 0) return true;
    if (cmp < 0) {
      hi = start;
    } else {
      lo = end + 1;
    }
  }
  return false;
}

}  // namespace outpost::domain
