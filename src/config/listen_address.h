// ListenAddress: a HOST:PORT to bind, as written in server.listen, server.http_redirect_listen
// and the CLI's --listen. Hosts are IP literals only ("localhost" is taken as 127.0.0.1) so that
// binding never depends on name resolution, which a statically linked binary cannot do well.
#ifndef OUTPOST_CONFIG_LISTEN_ADDRESS_H_
#define OUTPOST_CONFIG_LISTEN_ADDRESS_H_

#include <string>
#include <string_view>

#include "util/status.h"

namespace outpost::config {

// A validated address to bind. Invariants (when made by ParseListenAddress): `host` is the
// canonical text of an IPv4 address (ipv6 == false) or of an IPv6 address without brackets
// (ipv6 == true), and 1 <= port <= 65535. Plain value type; thread-compatible.
struct ListenAddress {
  std::string host;
  int port = 0;
  bool ipv6 = false;

  // "127.0.0.1:8443" or "[::1]:8443": text that ParseListenAddress reads back unchanged.
  std::string ToString() const;

  // True for 0.0.0.0 and ::, which bind every interface.
  bool IsWildcard() const;

  bool operator==(const ListenAddress&) const = default;
};

// Parses "HOST:PORT" where HOST is an IPv4 address, "localhost" (127.0.0.1), "0.0.0.0", or an
// IPv6 address in brackets ("[::1]:8443", "[::]:443"). Returns InvalidArgument with a message
// naming the problem (missing port, port out of 1..65535, a host that is not an IP address,
// IPv6 without brackets); never a DNS lookup. Thread-safe.
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace outpost::config

#endif  // OUTPOST_CONFIG_LISTEN_ADDRESS_H_
