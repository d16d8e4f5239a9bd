#include "config/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

namespace outpost::config {

namespace {

// `text` in double quotes, with control bytes escaped so that an error message stays one line.
std::string Quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

Status Invalid(std::string_view text, std::string_view what) {
  return Status::InvalidArgument(Quote(text) + ": " + std::string(what));
}

// Canonical text of an IP literal of family `af`, or "" when `host` is not one. inet_pton is
// strict: no "127.1", no leading zeros, no zone ids ("fe80::1%eth0").
std::string CanonicalIp(int af, const std::string& host) {
  unsigned char bytes[sizeof(in6_addr)];
  if (inet_pton(af, host.c_str(), bytes) != 1) return "";
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(af, bytes, buf, sizeof(buf)) == nullptr) return "";
  return buf;
}

}  // namespace

std::string ListenAddress::ToString() const {
  std::string port_text = std::to_string(port);
  return ipv6 ? "[" + host + "]:" + port_text : host + ":" + port_text;
}

bool ListenAddress::IsWildcard() const { return ipv6 ? host == "::" : host == "0.0.0.0"; }

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty address: expected HOST:PORT");
  // A NUL would end the string early for inet_pton: "127.0.0.1\0junk" must not pass.
  if (std::any_of(text.begin(), text.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f || c == ' '; })) {
    return Invalid(text, "spaces and control characters are not allowed");
  }
  ListenAddress addr;
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return Invalid(text, "missing ']' after IPv6 address");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return Invalid(text, "missing ':PORT' after ']'");
    port = rest.substr(1);
    addr.ipv6 = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Invalid(text, "missing ':PORT'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Invalid(text, "an IPv6 address must be in brackets, e.g. \"[::1]:8443\"");
    }
  }

  if (host.empty()) {
    return Invalid(text, "missing host (\"0.0.0.0\" or \"[::]\" listens on every interface)");
  }
  if (port.empty()) return Invalid(text, "missing port after ':'");
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Invalid(text, "port " + Quote(port) + " is not a number");
  }
  // At most 5 digits keeps the arithmetic far from overflow; longer is out of range anyway.
  long value = 0;
  if (port.size() <= 5) {
    for (char c : port) value = value * 10 + (c - '0');
  }
  if (port.size() > 5 || value < 1 || value > 65535) {
    return Invalid(text, "port must be between 1 and 65535, got " + std::string(port));
  }
  addr.port = static_cast<int>(value);

  std::string host_text(host);
  if (addr.ipv6) {
    addr.host = CanonicalIp(AF_INET6, host_text);
    if (addr.host.empty()) return Invalid(text, Quote(host) + " is not an IPv6 address");
  } else if (host == "localhost") {
    addr.host = "127.0.0.1";
  } else {
    addr.host = CanonicalIp(AF_INET, host_text);
    if (addr.host.empty()) {
      return Invalid(text, Quote(host) + " is not an IPv4 address or \"localhost\"" +
                               " (host names are not resolved)");
    }
  }
  return addr;
}

}  // namespace outpost::config
