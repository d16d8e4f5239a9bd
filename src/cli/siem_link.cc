#include "cli/siem_link.h"

#include <unistd.h>

#include "net/stream_client.h"
#include "util/fs.h"

namespace outpost::cli {
namespace {

class StreamConnection : public domain::SiemConnection {
 public:
  explicit StreamConnection(std::unique_ptr<net::StreamClient> client)
      : client_(std::move(client)) {}
  Status Write(std::string_view bytes) override { return client_->Write(bytes); }
  int64_t BytesWritten() const override { return client_->BytesWritten(); }
  Result<int64_t> BytesUnacknowledged() override { return client_->BytesUnacknowledged(); }
  bool PeerClosed() override { return client_->PeerClosed(); }
  void Abort() override { client_->Abort(); }

 private:
  std::unique_ptr<net::StreamClient> client_;
};

}  // namespace

domain::ForwarderOptions ForwarderOptionsFor(const config::Config& cfg) {
  domain::ForwarderOptions o;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0') o.format.hostname = host;
  o.format.app_name = cfg.siem.app_name;
  o.format.facility = cfg.siem.facility;
  const bool v6 = cfg.siem.host.find(':') != std::string::npos;
  o.target = (v6 ? "[" + cfg.siem.host + "]" : cfg.siem.host) + ":" +
             std::to_string(cfg.siem.port) + " (" +
             std::string(config::SiemTransportName(cfg.siem.transport)) + ")";
  return o;
}

domain::SiemConnector SiemConnectorFor(const config::Config& cfg) {
  net::StreamClientOptions base;
  base.host = cfg.siem.host;
  base.port = cfg.siem.port;
  base.tls = cfg.siem.transport == config::SiemTransport::kTls;
  base.server_name = cfg.siem.server_name;
  const std::string ca_file = cfg.siem.ca_file;
  return [base, ca_file]() -> Result<std::unique_ptr<domain::SiemConnection>> {
    net::StreamClientOptions o = base;
    if (o.tls) {
      Result<std::string> ca = ReadFile(ca_file);
      if (!ca.ok()) return Status::Unavailable(ca.status().message());
      o.ca_pem = std::move(*ca);
    }
    Result<std::unique_ptr<net::StreamClient>> client = net::StreamClient::Connect(o);
    if (!client.ok()) {
      // Every reason the SIEM cannot be used now is the same to the forwarder: retry later.
      return Status::Unavailable(client.status().message());
    }
    return std::unique_ptr<domain::SiemConnection>(
        std::make_unique<StreamConnection>(std::move(*client)));
  };
}

}  // namespace outpost::cli
