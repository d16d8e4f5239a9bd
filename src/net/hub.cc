#include "net/hub.h"

#include <mbedtls/net_sockets.h>  // MBEDTLS_ERR_NET_* codes only; we bring our own callbacks
#include <mbedtls/ssl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "net/hub_loop.h"

namespace outpost::net {

void SslContextDeleter::operator()(mbedtls_ssl_context* ssl) const {
  if (ssl == nullptr) return;
  mbedtls_ssl_free(ssl);
  delete ssl;
}

SslContextPtr NewSslContext() {
  SslContextPtr ssl(new mbedtls_ssl_context);
  mbedtls_ssl_init(ssl.get());
  return ssl;
}

Result<uint64_t> RaiseOpenFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return Status::IoError(std::string("getrlimit: ") + std::strerror(errno));
  }
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      return Status::IoError(std::string("setrlimit: ") + std::strerror(errno));
    }
  }
  return static_cast<uint64_t>(lim.rlim_cur);
}

HubTicket& HubTicket::operator=(HubTicket&& other) noexcept {
  if (this != &other) {
    Release();
    hub_ = std::exchange(other.hub_, nullptr);
    user_id_ = other.user_id_;
    session_ = other.session_;
    ip_ = std::move(other.ip_);
  }
  return *this;
}

void HubTicket::Release() {
  if (hub_ == nullptr) return;
  std::exchange(hub_, nullptr)->ReleaseSlot(user_id_, ip_, session_);
}

Hub::Hub(HubOptions options) : options_(std::move(options)) {}

Hub::~Hub() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status Hub::Start() {
  if (loop_ != nullptr) return Status::FailedPrecondition("the hub was started already");
  OUTPOST_RETURN_IF_ERROR(RaiseOpenFileLimit().status());
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Status::IoError(std::string("eventfd: ") + std::strerror(errno));
  auto loop = std::make_unique<Loop>(this);
  OUTPOST_RETURN_IF_ERROR(loop->Init(wake_fd_));
  loop_ = std::move(loop);
  {
    std::lock_guard<std::mutex> lock(admit_mu_);
    accepting_ = true;
  }
  thread_ = std::thread([this] { loop_->Run(); });
  return Status::Ok();
}

void Hub::Stop() {
  {
    std::lock_guard<std::mutex> lock(admit_mu_);
    accepting_ = false;
  }
  {
    std::lock_guard<std::mutex> lock(commands_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
    thread_.join();
    loop_.reset();  // closes what is left
  }
  // Without a running loop (never started) adopted sockets would wait here forever.
  std::lock_guard<std::mutex> lock(commands_mu_);
  for (Command& c : commands_) {
    if (c.handoff != nullptr) ::close(c.handoff->fd);
  }
  commands_.clear();
}

Result<HubTicket> Hub::Admit(int64_t user_id, const std::string& ip, int64_t session) {
  std::lock_guard<std::mutex> lock(admit_mu_);
  if (!accepting_) return Status::Unavailable("the realtime hub is not running");
  if (options_.max_connections > 0 && total_ >= options_.max_connections) {
    counters_.refused_ip_limit.fetch_add(1);
    return Status::ResourceExhausted("too many realtime connections");
  }
  int& for_user = per_user_[user_id];
  if (options_.max_connections_per_user > 0 && for_user >= options_.max_connections_per_user) {
    if (for_user == 0) per_user_.erase(user_id);
    counters_.refused_user_limit.fetch_add(1);
    return Status::ResourceExhausted("too many realtime connections for this user");
  }
  int& for_ip = per_ip_[ip];
  if (options_.max_connections_per_ip > 0 && for_ip >= options_.max_connections_per_ip) {
    if (for_ip == 0) per_ip_.erase(ip);
    if (for_user == 0) per_user_.erase(user_id);
    counters_.refused_ip_limit.fetch_add(1);
    return Status::ResourceExhausted("too many realtime connections from this address");
  }
  ++for_user;
  ++for_ip;
  ++total_;
  if (session != 0) ++per_session_[session];
  HubTicket ticket;
  ticket.hub_ = this;
  ticket.user_id_ = user_id;
  ticket.session_ = session;
  ticket.ip_ = ip;
  return ticket;
}

void Hub::ReleaseSlot(int64_t user_id, const std::string& ip, int64_t session) {
  std::lock_guard<std::mutex> lock(admit_mu_);
  if (auto it = per_session_.find(session); it != per_session_.end() && --it->second <= 0) {
    per_session_.erase(it);
  }
  if (auto it = per_user_.find(user_id); it != per_user_.end() && --it->second <= 0) {
    per_user_.erase(it);
  }
  if (auto it = per_ip_.find(ip); it != per_ip_.end() && --it->second <= 0) per_ip_.erase(it);
  --total_;
}

bool Hub::Enqueue(Command&& command) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(commands_mu_);
    if (stopping_) return false;
    wake = commands_.empty();
    commands_.push_back(std::move(command));
  }
  // One wake-up per batch: the loop takes the whole list each time it wakes.
  if (wake) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }
  return true;
}

ConnId Hub::Adopt(HubHandoff handoff) {
  const ConnId id = next_id_.fetch_add(1);
  Command c;
  c.type = Command::Type::kAdopt;
  c.conn = id;
  c.handoff = std::make_unique<HubHandoff>(std::move(handoff));
  if (!Enqueue(std::move(c))) {  // stopped: Enqueue left `c` alone
    ::close(c.handoff->fd);
    return 0;
  }
  counters_.adopted.fetch_add(1);
  return id;
}

void Hub::Publish(int64_t topic, std::shared_ptr<const std::string> payload, std::string cursor) {
  if (payload == nullptr) return;
  Command c;
  c.type = Command::Type::kPublish;
  c.id = topic;
  c.frame = Frame::Text(*payload, std::move(cursor));
  Enqueue(std::move(c));
}

void Hub::PublishToUser(int64_t user_id, std::shared_ptr<const std::string> payload,
                        std::string cursor) {
  if (payload == nullptr) return;
  Command c;
  c.type = Command::Type::kPublishToUser;
  c.id = user_id;
  c.frame = Frame::Text(*payload, std::move(cursor));
  Enqueue(std::move(c));
}

void Hub::Send(ConnId conn, std::shared_ptr<const std::string> payload, std::string cursor) {
  if (payload == nullptr) return;
  Command c;
  c.type = Command::Type::kSend;
  c.conn = conn;
  c.frame = Frame::Text(*payload, std::move(cursor));
  Enqueue(std::move(c));
}

void Hub::SubscribeUser(int64_t user_id, int64_t topic) {
  Command c;
  c.type = Command::Type::kSubscribe;
  c.id = user_id;
  c.topic = topic;
  Enqueue(std::move(c));
}

void Hub::UnsubscribeUser(int64_t user_id, int64_t topic) {
  Command c;
  c.type = Command::Type::kUnsubscribe;
  c.id = user_id;
  c.topic = topic;
  Enqueue(std::move(c));
}

void Hub::CloseUser(int64_t user_id, uint16_t code, std::string reason) {
  Command c;
  c.type = Command::Type::kCloseUser;
  c.id = user_id;
  c.code = code;
  c.reason = std::move(reason);
  Enqueue(std::move(c));
}

void Hub::Close(ConnId conn, uint16_t code, std::string reason) {
  Command c;
  c.type = Command::Type::kClose;
  c.conn = conn;
  c.code = code;
  c.reason = std::move(reason);
  Enqueue(std::move(c));
}

void Hub::CloseSession(int64_t session, uint16_t code, std::string reason) {
  if (session == 0) return;
  Command c;
  c.type = Command::Type::kCloseSession;
  c.id = session;
  c.code = code;
  c.reason = std::move(reason);
  Enqueue(std::move(c));
}

std::vector<int64_t> Hub::SessionsConnected() const {
  std::lock_guard<std::mutex> lock(admit_mu_);
  std::vector<int64_t> out;
  out.reserve(per_session_.size());
  for (const auto& [session, n] : per_session_) out.push_back(session);
  return out;
}

size_t Hub::ConnectionRecordBytes() {
  // The Conn itself; its node in conns_ (key, pointer, next, hash) plus a bucket; its id in
  // user_conns_ (a user with one connection: node, bucket, vector and one 8-byte element).
  return sizeof(Conn) + 4 * sizeof(void*) + sizeof(void*) + (5 * sizeof(void*) + 8);
}

HubStats Hub::Stats() const {
  HubStats s;
  s.connections = counters_.connections.load();
  s.bytes_queued = counters_.bytes_queued.load();
  {
    std::lock_guard<std::mutex> lock(commands_mu_);
    s.commands_pending = commands_.size();
  }
  s.adopted = counters_.adopted.load();
  s.closed = counters_.closed.load();
  s.overflow_closes = counters_.overflow_closes.load();
  s.protocol_closes = counters_.protocol_closes.load();
  s.rate_limit_closes = counters_.rate_limit_closes.load();
  s.ping_timeouts = counters_.ping_timeouts.load();
  s.refused_user_limit = counters_.refused_user_limit.load();
  s.refused_ip_limit = counters_.refused_ip_limit.load();
  s.messages_in = counters_.messages_in.load();
  s.frames_out = counters_.frames_out.load();
  return s;
}

}  // namespace outpost::net
