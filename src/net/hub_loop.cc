// The hub thread: epoll (edge-triggered, each socket registered once for input and output)
// over non-blocking sockets, mbedTLS on top, the WebSocket codec above that.
//
// One turn of the loop: wait for events (or the next tick, or not at all when some connection
// still has input after its read budget); read what arrived and act on it; apply the commands
// queued by other threads; flush every connection that got output during the turn, so that
// several frames queued in one turn leave in one TLS record and one send(2); then timers.
#include "net/hub_loop.h"

#include <mbedtls/net_sockets.h>  // MBEDTLS_ERR_NET_* codes only
#include <mbedtls/ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "util/log.h"

namespace outpost::net {
namespace {

constexpr size_t kBufSize = 16384;         // one TLS record of plaintext
constexpr size_t kReadBudget = 64 * 1024;  // per connection per turn, for fairness
constexpr int kMaxEvents = 256;
constexpr ConnId kWakeId = 0;              // epoll data of the eventfd
constexpr size_t kKeepQueueCapacity = 16;  // an idle queue keeps at most this many slots
constexpr int64_t kStopFlushMs = 1000;

// Non-blocking bio: the context is the file descriptor itself, so a connection needs no
// separate transport record.
int BioSend(void* ctx, const unsigned char* buf, size_t len) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(ctx));
  const ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    return MBEDTLS_ERR_SSL_WANT_WRITE;
  }
  return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                               : MBEDTLS_ERR_NET_SEND_FAILED;
}

int BioRecv(void* ctx, unsigned char* buf, size_t len) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(ctx));
  const ssize_t n = ::recv(fd, buf, len, 0);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    return MBEDTLS_ERR_SSL_WANT_READ;
  }
  return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

bool IsWant(int r) { return r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE; }

template <typename T>
void SortedInsert(std::vector<T>* v, T value) {
  auto it = std::lower_bound(v->begin(), v->end(), value);
  if (it == v->end() || *it != value) v->insert(it, value);
}

// Removes `value` from the vector stored under `key`, dropping the entry when it empties.
template <typename K, typename T>
void SortedErase(std::unordered_map<K, std::vector<T>>* map, K key, T value) {
  auto it = map->find(key);
  if (it == map->end()) return;
  auto pos = std::lower_bound(it->second.begin(), it->second.end(), value);
  if (pos != it->second.end() && *pos == value) it->second.erase(pos);
  if (it->second.empty()) map->erase(it);
}

}  // namespace

std::shared_ptr<const Hub::Frame> Hub::Frame::Text(std::string_view payload, std::string cursor) {
  auto f = std::make_shared<Frame>();
  f->bytes = ws::EncodeFrame(ws::Opcode::kText, payload);
  f->cursor = std::move(cursor);
  return f;
}

std::shared_ptr<const Hub::Frame> Hub::Frame::Control(ws::Opcode opcode, std::string_view payload) {
  auto f = std::make_shared<Frame>();
  f->bytes = ws::EncodeFrame(opcode, payload.substr(0, ws::kMaxControlPayload));
  return f;
}

Hub::Loop::Loop(Hub* hub) : hub_(hub), in_buf_(new char[kBufSize]), out_buf_(new char[kBufSize]) {
  limits_ = hub->options_.limits;
  limits_.expect_masked = true;  // RFC 6455 5.1: a server must refuse unmasked frames
  const auto& o = hub->options_;
  const int64_t shortest =
      std::min({o.ping_interval.count(), o.pong_timeout.count(), o.close_grace.count()});
  tick_ms_ = std::clamp<int64_t>(shortest / 4, 10, 250);
  ping_frame_ = Frame::Control(ws::Opcode::kPing, "");
}

Hub::Loop::~Loop() {
  std::vector<ConnId> ids;
  for (const auto& [id, c] : conns_) ids.push_back(id);
  for (ConnId id : ids) Destroy(Find(id));
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Status Hub::Loop::Init(int wake_fd) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return Status::IoError(std::string("epoll_create1: ") + std::strerror(errno));
  wake_fd_ = wake_fd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    return Status::IoError(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  return Status::Ok();
}

int64_t Hub::Loop::Now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Hub::Conn* Hub::Loop::Find(ConnId id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

void Hub::Loop::Run() {
  std::vector<epoll_event> events(kMaxEvents);
  next_tick_ms_ = Now() + tick_ms_;
  for (;;) {
    const int64_t wait = ready_.empty() ? std::max<int64_t>(0, next_tick_ms_ - Now()) : 0;
    const int n = ::epoll_wait(epoll_fd_, events.data(), kMaxEvents, static_cast<int>(wait));
    if (n < 0 && errno != EINTR) {
      log::Error("realtime hub: epoll_wait failed", {{"error", std::strerror(errno)}});
      break;
    }
    for (int i = 0; i < n; ++i) {
      const ConnId id = events[i].data.u64;
      if (id == kWakeId) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof(count));
        continue;
      }
      if (Conn* c = Find(id)) OnEvent(c, events[i].events);  // gone: a stale event
    }
    if (!ready_.empty()) {
      std::vector<ConnId> ready;
      ready.swap(ready_);
      for (ConnId id : ready) {
        if (Conn* c = Find(id)) {
          c->ready = false;
          Read(c);
        }
      }
    }
    bool stop = false;
    RunCommands(&stop);
    if (stop && stop_deadline_ms_ == 0) {
      stop_deadline_ms_ = Now() + kStopFlushMs;
      for (auto& [id, c] : conns_) StartClose(c.get(), ws::kCloseGoingAway, "server stopping");
    }
    for (size_t i = 0; i < dirty_.size(); ++i) {  // Flush never adds to dirty_
      if (Conn* c = Find(dirty_[i])) {
        c->dirty = false;
        Flush(c);
      }
    }
    dirty_.clear();
    if (Now() >= next_tick_ms_) Tick();
    if (stop_deadline_ms_ > 0 && (conns_.empty() || Now() >= stop_deadline_ms_)) break;
  }
  std::vector<ConnId> left;  // closed here so that handlers still run on the hub thread
  for (const auto& [id, c] : conns_) left.push_back(id);
  for (ConnId id : left) Destroy(Find(id));
}

void Hub::Loop::RunCommands(bool* stop) {
  {
    std::lock_guard<std::mutex> lock(hub_->commands_mu_);
    batch_.swap(hub_->commands_);
    *stop = hub_->stopping_;
  }
  for (Command& c : batch_) Apply(c);
  batch_.clear();
}

void Hub::Loop::Apply(Command& cmd) {
  switch (cmd.type) {
    case Command::Type::kAdopt:
      AddConn(cmd);
      break;
    case Command::Type::kPublish: {
      auto users = topic_users_.find(cmd.id);
      if (users == topic_users_.end()) break;
      for (int64_t user : users->second) {
        auto conns = user_conns_.find(user);
        if (conns == user_conns_.end()) continue;
        for (ConnId id : conns->second) Push(Find(id), cmd.frame, false);
      }
      break;
    }
    case Command::Type::kPublishToUser:
      if (auto conns = user_conns_.find(cmd.id); conns != user_conns_.end()) {
        for (ConnId id : conns->second) Push(Find(id), cmd.frame, false);
      }
      break;
    case Command::Type::kSend:
      if (Conn* c = Find(cmd.conn)) Push(c, cmd.frame, false);
      break;
    case Command::Type::kSubscribe:
      SortedInsert(&user_topics_[cmd.id], cmd.topic);
      SortedInsert(&topic_users_[cmd.topic], cmd.id);
      break;
    case Command::Type::kUnsubscribe:
      SortedErase(&user_topics_, cmd.id, cmd.topic);
      SortedErase(&topic_users_, cmd.topic, cmd.id);
      break;
    case Command::Type::kCloseUser:
      if (auto conns = user_conns_.find(cmd.id); conns != user_conns_.end()) {
        for (ConnId id : conns->second) StartClose(Find(id), cmd.code, cmd.reason);
      }
      break;
    case Command::Type::kCloseSession:
      // A scan: revocations are rare, and an index would cost every connection memory.
      for (auto& [id, conn] : conns_) {
        if (conn->ticket.session() == cmd.id) StartClose(conn.get(), cmd.code, cmd.reason);
      }
      break;
    case Command::Type::kClose:
      if (Conn* c = Find(cmd.conn)) StartClose(c, cmd.code, cmd.reason);
      break;
  }
}

void Hub::Loop::AddConn(Command& cmd) {
  HubHandoff& h = *cmd.handoff;
  auto owned = std::make_unique<Conn>(&limits_);
  Conn* c = owned.get();
  c->id = cmd.conn;
  c->fd = h.fd;
  c->ssl = std::move(h.ssl);
  c->tls = std::move(h.tls);
  c->ticket = std::move(h.ticket);
  const int64_t now = Now();
  c->last_rx_ms = now;
  c->tokens_ms = now;
  c->tokens = static_cast<float>(std::max(1, hub_->options_.message_burst));
  mbedtls_ssl_set_bio(c->ssl.get(), reinterpret_cast<void*>(static_cast<intptr_t>(c->fd)), BioSend,
                      BioRecv, nullptr);
  // The loop already gathers a turn's frames into one record; Nagle would only add latency.
  const int one = 1;
  ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (hub_->options_.socket_send_buffer > 0) {
    ::setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &hub_->options_.socket_send_buffer, sizeof(int));
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = c->id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
    log::Error("realtime hub: epoll_ctl failed", {{"error", std::strerror(errno)}});
    ::close(c->fd);
    hub_->counters_.closed.fetch_add(1);
    return;  // `owned` frees the session and the ticket
  }
  conns_.emplace(c->id, std::move(owned));
  user_conns_[c->user_id()].push_back(c->id);
  hub_->counters_.connections.fetch_add(1);
  if (hub_->on_connection_) hub_->on_connection_(c->id, c->user_id(), true);
  // Frames the client sent right behind its request, then whatever mbedTLS or the socket
  // already holds: edge-triggered epoll reports only what arrives from now on.
  if (!h.early.empty()) Process(c, h.early);
  Read(c);
}

void Hub::Loop::OnEvent(Conn* c, uint32_t events) {
  if ((events & EPOLLERR) != 0) {
    Destroy(c);
    return;
  }
  if ((events & EPOLLOUT) != 0) {
    c->write_blocked = false;
    if (c->head < c->queue.size() || c->state == Conn::State::kClosing) MarkDirty(c);
    if (c->read_wants_write) {
      c->read_wants_write = false;
      if (!Read(c)) return;
    }
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0) Read(c);
}

bool Hub::Loop::Read(Conn* c) {
  size_t budget = kReadBudget;
  for (;;) {
    const int r =
        mbedtls_ssl_read(c->ssl.get(), reinterpret_cast<unsigned char*>(in_buf_.get()), kBufSize);
    if (r > 0) {
      c->last_rx_ms = Now();
      const std::string_view bytes(in_buf_.get(), static_cast<size_t>(r));
      if (c->state == Conn::State::kOpen) {
        Process(c, bytes);
      } else if (!ProcessClosing(c, bytes)) {
        return false;
      }
      if (static_cast<size_t>(r) >= budget) {
        if (!c->ready) {
          c->ready = true;
          ready_.push_back(c->id);
        }
        break;
      }
      budget -= static_cast<size_t>(r);
      continue;
    }
    if (r == MBEDTLS_ERR_SSL_WANT_READ) break;
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
      c->read_wants_write = true;
      break;
    }
    Destroy(c);  // close_notify, end of stream, reset or a TLS error: nothing more to say
    return false;
  }
  if (c->head < c->queue.size() || c->state == Conn::State::kClosing) MarkDirty(c);
  return true;
}

void Hub::Loop::Process(Conn* c, std::string_view bytes) {
  while (c->state == Conn::State::kOpen) {
    const ws::FrameEvent ev = c->parser.Next(&bytes);
    switch (ev.kind) {
      case ws::FrameEvent::Kind::kNeedMore:
        return;
      case ws::FrameEvent::Kind::kMessage:
        if (!TakeToken(c)) return;
        if (ev.opcode != ws::Opcode::kText) {
          hub_->counters_.protocol_closes.fetch_add(1);
          StartClose(c, ws::kCloseUnsupportedData, "only text messages are accepted");
          return;
        }
        hub_->counters_.messages_in.fetch_add(1);
        if (hub_->on_message_) {
          try {
            hub_->on_message_(c->id, c->user_id(), c->ticket.session(), ev.payload);
          } catch (const std::exception& e) {
            log::Error("realtime message handler threw", {{"error", e.what()}});
            StartClose(c, ws::kCloseInternalError, "internal error");
          }
        }
        break;
      case ws::FrameEvent::Kind::kPing:
        if (!TakeToken(c)) return;
        Push(c, Frame::Control(ws::Opcode::kPong, ev.payload), false);
        break;
      case ws::FrameEvent::Kind::kPong:
        c->ping_sent_ms = 0;
        break;
      case ws::FrameEvent::Kind::kClose:
        // Echo the peer's code (RFC 6455 5.5.1); 1005 means it sent none, answer 1000.
        c->close_received = true;
        StartClose(c, ev.close_code == ws::kCloseNoStatus ? ws::kCloseNormal : ev.close_code, "");
        return;
      case ws::FrameEvent::Kind::kError:
        hub_->counters_.protocol_closes.fetch_add(1);
        StartClose(c, ev.close_code, ev.error);
        return;
    }
  }
}

// Once our Close is queued, input matters only for the peer's Close, which completes the
// closing handshake; everything else is dropped unread by anyone.
bool Hub::Loop::ProcessClosing(Conn* c, std::string_view bytes) {
  while (!c->close_received) {
    const ws::FrameEvent ev = c->parser.Next(&bytes);
    if (ev.kind == ws::FrameEvent::Kind::kNeedMore || ev.kind == ws::FrameEvent::Kind::kError) {
      return true;  // after a protocol error the stream cannot be followed: wait for its end
    }
    if (ev.kind == ws::FrameEvent::Kind::kClose) c->close_received = true;
  }
  if (c->state == Conn::State::kDraining) {
    Destroy(c);  // both Close frames exchanged and ours is out: RFC 6455 7.1.1, server closes
    return false;
  }
  return true;  // kClosing: Flush closes once our Close is out
}

bool Hub::Loop::TakeToken(Conn* c) {
  const auto& o = hub_->options_;
  if (o.messages_per_second <= 0) return true;
  const int64_t now = Now();
  const float burst = static_cast<float>(std::max(1, o.message_burst));
  c->tokens = std::min(
      burst, c->tokens + static_cast<float>(now - c->tokens_ms) * o.messages_per_second / 1000.f);
  c->tokens_ms = now;
  if (c->tokens < 1.f) {
    hub_->counters_.rate_limit_closes.fetch_add(1);
    StartClose(c, ws::kClosePolicyViolation, "too many messages");
    return false;
  }
  c->tokens -= 1.f;
  return true;
}

void Hub::Loop::Push(Conn* c, std::shared_ptr<const Frame> frame, bool bypass_limit) {
  if (c == nullptr || (c->state != Conn::State::kOpen && !bypass_limit)) return;
  const size_t n = frame->bytes.size();
  if (!bypass_limit && c->queued_bytes + n > hub_->options_.max_queued_bytes) {
    Overflow(c);
    return;
  }
  // Reclaim the slots of sent frames once they are the larger half of the vector.
  if (c->head >= 32 && c->head * 2 >= c->queue.size()) {
    c->queue.erase(c->queue.begin(), c->queue.begin() + c->head);
    c->head = 0;
  }
  c->queue.push_back(std::move(frame));
  c->queued_bytes += n;
  hub_->counters_.bytes_queued.fetch_add(n);
  MarkDirty(c);
}

// A slow consumer: keep the frames TLS has started on (their bytes may be on the wire and the
// stream must stay well-formed), drop the rest, tell the client where to resume, close.
void Hub::Loop::Overflow(Conn* c) {
  hub_->counters_.overflow_closes.fetch_add(1);
  size_t keep = c->head + (c->head_offset > 0 ? 1 : 0);
  size_t in_record = c->pending_record;
  for (size_t i = c->head, off = c->head_offset; in_record > 0 && i < c->queue.size(); ++i) {
    const size_t take = std::min(in_record, c->queue[i]->bytes.size() - off);
    in_record -= take;
    off = 0;
    keep = i + 1;
  }
  size_t dropped = 0;
  for (size_t i = keep; i < c->queue.size(); ++i) dropped += c->queue[i]->bytes.size();
  c->queue.resize(keep);
  c->queued_bytes -= dropped;
  hub_->counters_.bytes_queued.fetch_sub(dropped);
  std::string resume = c->last_cursor;
  for (size_t i = keep; i > c->head; --i) {
    if (!c->queue[i - 1]->cursor.empty()) {
      resume = c->queue[i - 1]->cursor;
      break;
    }
  }
  const nlohmann::json note = {{"type", "overflow"}, {"resume", resume}};
  Push(c, Frame::Text(note.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), ""),
       true);
  StartClose(c, hub_->options_.overflow_close_code, "overflow");
}

void Hub::Loop::StartClose(Conn* c, uint16_t code, std::string_view reason) {
  if (c == nullptr || c->state != Conn::State::kOpen) return;
  Push(c, Frame::Control(ws::Opcode::kClose, ws::ClosePayload(code, reason)), true);
  c->state = Conn::State::kClosing;
  c->close_deadline_ms = Now() + hub_->options_.close_grace.count();
  closing_.push_back(c->id);
  MarkDirty(c);
}

bool Hub::Loop::Flush(Conn* c) {
  if (c->state == Conn::State::kDraining) return true;
  const size_t max_record = std::min<size_t>(
      kBufSize, static_cast<size_t>(mbedtls_ssl_get_max_out_record_payload(c->ssl.get())));
  while (c->head < c->queue.size() && !c->write_blocked) {
    const std::string& first = c->queue[c->head]->bytes;
    const size_t len =
        c->pending_record > 0 ? c->pending_record : std::min(c->queued_bytes, max_record);
    const char* data = first.data() + c->head_offset;
    if (len > first.size() - c->head_offset) {
      // Several frames in one record: gather them. On a retry this rebuilds the same bytes,
      // because the queue's front does not move until the record is written.
      size_t filled = 0;
      for (size_t i = c->head, off = c->head_offset; filled < len; ++i, off = 0) {
        const std::string& b = c->queue[i]->bytes;
        const size_t take = std::min(len - filled, b.size() - off);
        std::memcpy(out_buf_.get() + filled, b.data() + off, take);
        filled += take;
      }
      data = out_buf_.get();
    }
    const int r =
        mbedtls_ssl_write(c->ssl.get(), reinterpret_cast<const unsigned char*>(data), len);
    if (IsWant(r)) {
      c->pending_record = static_cast<uint32_t>(len);
      c->write_blocked = true;
      break;
    }
    if (r < 0) {
      Destroy(c);
      return false;
    }
    c->pending_record = 0;
    Advance(c, static_cast<size_t>(r));
  }
  if (c->head == c->queue.size()) {
    c->queue.clear();
    c->head = 0;
    if (c->queue.capacity() > kKeepQueueCapacity) c->queue.shrink_to_fit();
    if (c->state == Conn::State::kClosing && !c->write_blocked) {
      mbedtls_ssl_close_notify(c->ssl.get());  // best effort: one record, or nothing
      if (c->close_received) {
        Destroy(c);  // the peer sends nothing more, so closing cannot reset the connection
        return false;
      }
      ::shutdown(c->fd, SHUT_WR);
      c->state = Conn::State::kDraining;
    }
  }
  return true;
}

void Hub::Loop::Advance(Conn* c, size_t n) {
  hub_->counters_.bytes_queued.fetch_sub(n);
  c->queued_bytes -= n;
  while (n > 0) {
    const Frame& f = *c->queue[c->head];
    const size_t take = std::min(n, f.bytes.size() - c->head_offset);
    c->head_offset += static_cast<uint32_t>(take);
    n -= take;
    if (c->head_offset == f.bytes.size()) {
      hub_->counters_.frames_out.fetch_add(1);
      if (!f.cursor.empty()) c->last_cursor = f.cursor;
      c->queue[c->head].reset();
      ++c->head;
      c->head_offset = 0;
    }
  }
}

void Hub::Loop::Destroy(Conn* c) {
  const ConnId id = c->id;
  const int64_t user = c->user_id();
  ::close(c->fd);  // also leaves the epoll set: nothing else holds the descriptor
  hub_->counters_.bytes_queued.fetch_sub(c->queued_bytes);
  hub_->counters_.connections.fetch_sub(1);
  hub_->counters_.closed.fetch_add(1);
  if (auto it = user_conns_.find(user); it != user_conns_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), id), v.end());
    if (v.empty()) user_conns_.erase(it);
  }
  conns_.erase(id);  // frees the TLS session and releases the admission slot
  if (hub_->on_connection_) hub_->on_connection_(id, user, false);
}

void Hub::Loop::MarkDirty(Conn* c) {
  if (c->dirty) return;
  c->dirty = true;
  dirty_.push_back(c->id);
}

void Hub::Loop::Tick() {
  const int64_t now = Now();
  next_tick_ms_ = now + tick_ms_;
  for (size_t i = 0; i < closing_.size();) {
    Conn* c = Find(closing_[i]);
    if (c == nullptr || now >= c->close_deadline_ms) {
      if (c != nullptr) Destroy(c);
      closing_[i] = closing_.back();
      closing_.pop_back();
      continue;
    }
    ++i;
  }
  const auto& o = hub_->options_;
  std::vector<ConnId> dead;
  for (auto& [id, owned] : conns_) {
    Conn* c = owned.get();
    if (c->state != Conn::State::kOpen) continue;
    if (c->ping_sent_ms > 0) {
      if (now - c->ping_sent_ms >= o.pong_timeout.count()) dead.push_back(id);
    } else if (now - c->last_rx_ms >= o.ping_interval.count()) {
      c->ping_sent_ms = now;
      Push(c, ping_frame_, false);
    }
  }
  // A peer that does not answer pings is gone or stuck; a Close would not reach it either.
  for (ConnId id : dead) {
    hub_->counters_.ping_timeouts.fetch_add(1);
    Destroy(Find(id));
  }
  for (ConnId id : dirty_) {
    if (Conn* c = Find(id)) {
      c->dirty = false;
      Flush(c);
    }
  }
  dirty_.clear();
}

}  // namespace outpost::net
