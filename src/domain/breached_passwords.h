// The list of the most common breached passwords that the password policy refuses (NIST SP
// 800-63B-4 section 3.1.1.2: check new passwords against a blocklist of commonly used, expected
// or compromised values). The list is embedded at build time from a pinned npm package
// (assets/breached-passwords.mjs); nothing is looked up over the network.
#ifndef OUTPOST_DOMAIN_BREACHED_PASSWORDS_H_
#define OUTPOST_DOMAIN_BREACHED_PASSWORDS_H_

#include <cstddef>
#include <string_view>

namespace outpost::domain {

// The embedded table: every entry lower-cased (ASCII letters), sorted by bytes and followed by
// '\n'. Immutable, static storage: thread-safe.
struct BreachedList {
  std::string_view sorted;
  size_t count = 0;
  std::string_view source;  // package, version and how many of its entries were taken
};

// Defined in the generated breached_passwords_data.cc. Never null, never empty.
const BreachedList& EmbeddedBreachedList();

// True when `password`, compared without regard to ASCII case, is an entry of `list` (by default
// the embedded one). Thread-safe; no allocation beyond one lower-cased copy.
bool IsBreachedPassword(std::string_view password);
bool IsBreachedPassword(std::string_view password, const BreachedList& list);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_BREACHED_PASSWORDS_H_
