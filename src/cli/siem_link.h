// The server's link to the site SIEM: the forwarder's options and connections from [siem]
// (a net::StreamClient behind the domain's SiemConnection interface).
#ifndef OUTPOST_CLI_SIEM_LINK_H_
#define OUTPOST_CLI_SIEM_LINK_H_

#include "config/config.h"
#include "domain/audit_forwarder.h"

namespace outpost::cli {

// Format (this machine's host name, [siem] app_name and facility) and target for logs.
domain::ForwarderOptions ForwarderOptionsFor(const config::Config& cfg);

// Opens a connection to [siem] host:port, over TLS verified against ca_file (read at every
// connect, so a replaced bundle is used without a restart) and server_name.
domain::SiemConnector SiemConnectorFor(const config::Config& cfg);

}  // namespace outpost::cli

#endif  // OUTPOST_CLI_SIEM_LINK_H_
