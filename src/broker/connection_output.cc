// connection: output. Staging per publisher worker, the hand-over to the writer, and the
// writer role (direct non-blocking writes from any worker; the owner waits for writability;
// TLS on the owner only). See connection.h and docs/threading.md.
#include <asio/post.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "broker/connection.h"
#include "broker/core.h"
#include "broker/worker.h"

namespace ferry::broker {

namespace {
constexpr std::size_t max_spares = 2;
constexpr int max_iov = 64;
constexpr std::size_t move_threshold = 16 * 1024;  // staged batches this large move, not copy
}  // namespace

void connection::schedule(worker* from) {
  if (from != nullptr) {
    from->schedule_flush(shared_from_this());
  } else {
    auto self = shared_from_this();
    asio::post(owner_.io(), [self] { self->flush(&self->owner_); });
  }
}

connection::stage* connection::stage_for(worker* from) {
  if (closed_.load(std::memory_order_acquire)) return nullptr;
  stage& st = stages_[from->index()];
  if (st.buf.empty() && st.msgs == 0) from->schedule_flush(shared_from_this());
  return &st;
}

void connection::send(std::string_view bytes, worker* from) {
  if (from != nullptr) {
    // Staged like deliveries from the same worker, so that the client sees its replies and
    // its messages in the order they were produced.
    if (stage* st = stage_for(from)) st->buf.append(bytes);
    return;
  }
  bool need;
  {
    std::lock_guard lock(out_mu_);
    if (state_ != out_state::open) return;
    queue_.append(bytes);
    need = queued_locked();
  }
  if (need) schedule(nullptr);
}

void connection::send_msg(std::string_view subject, std::string_view sid, std::string_view reply,
                          std::string_view headers, std::string_view payload, worker* from) {
  const bool with_headers = client_headers_.load(std::memory_order_relaxed);
  auto write = [&](byte_buffer& b) {
    protocol::append_msg(b, subject, sid, reply, headers, payload, with_headers);
  };
  if (from != nullptr) {
    if (stage* st = stage_for(from)) {
      write(st->buf);
      ++st->msgs;
      st->bytes += headers.size() + payload.size();
    }
    return;
  }
  bool need;
  {
    std::lock_guard lock(out_mu_);
    if (state_ != out_state::open) return;
    queue_.append_with(subject.size() + headers.size() + payload.size() + 64, write);
    ++out_msgs_;
    out_bytes_ += headers.size() + payload.size();
    need = queued_locked();
  }
  if (need) schedule(nullptr);
}

void connection::deliver_locked_path(subscription& s, const routed_message& m, bool headers, std::size_t bytes,
                                     std::size_t& queued) {
  bool need;
  {
    std::lock_guard lock(out_mu_);
    if (state_ != out_state::open) return;
    queue_.append_with(m.encoding.frame_size(s.sid.size()), [&](byte_buffer& b) { m.encoding.append(b, s.sid, headers); });
    ++out_msgs_;
    out_bytes_ += bytes;
    queued = queue_.size() + inflight_;
    need = queued_locked();
  }
  if (need) schedule(nullptr);
}

bool connection::queued_locked() {
  update_queued_locked();
  // A writer at work takes queue_ before it gives up its role (take_queue_locked), and an
  // arranged flush() will: nothing to arrange. Marking a flush arranged while only a writer was at
  // work would leave the mark set with no flush() coming to clear it, and the output of every
  // later send from outside the workers (acknowledgements from the sync thread, timers) would wait
  // for the client's next traffic.
  if (flush_queued_ || flush_scheduled_) return false;
  flush_scheduled_ = true;
  return true;
}

void connection::merge_stage_locked(stage& st) {
  out_msgs_ += st.msgs;
  out_bytes_ += st.bytes;
  st.msgs = 0;
  st.bytes = 0;
  if (st.buf.empty()) return;
  if (discard_output_ || state_ == out_state::closed) {
    st.buf.clear();
    return;
  }
  if (st.buf.size() < move_threshold) {
    // A small batch is copied (it is hot in cache) and the stage keeps its buffer, so that
    // fan-out to many destinations does not allocate a buffer per destination per batch.
    queue_.append(st.buf.view());
    st.buf.clear();
    return;
  }
  // A large batch becomes a chunk of the queue as it is (no copy), and the stage gets a
  // recycled buffer.
  queue_.push(std::move(st.buf));
  st.buf = byte_buffer();
  if (!spares_.empty()) {
    st.buf = std::move(spares_.back());
    spares_.pop_back();
  }
}

void connection::recycle_locked() {
  for (byte_buffer& b : freed_) {
    if (spares_.size() >= max_spares) break;
    if (b.capacity() > 256 * 1024) b.shrink_to(256 * 1024);
    spares_.push_back(std::move(b));
  }
  freed_.clear();
}

void connection::flush(worker* from) {
  bool take_role = false;
  {
    std::lock_guard lock(out_mu_);
    flush_scheduled_ = false;
    if (from != nullptr) {
      stage& st = stages_[from->index()];
      // Once closing, only what the closing thread merged itself is still sent.
      if (state_ == out_state::open) {
        merge_stage_locked(st);
      } else {
        st.buf.clear();
        st.msgs = st.bytes = 0;
      }
    }
    if (!flush_queued_ && !queue_.empty() && state_ != out_state::closed) {
      flush_queued_ = true;
      take_role = true;
    }
    update_queued_locked();
  }
  if (take_role) start_writing();
}

void connection::start_writing() {
  if (!use_tls_) {
    write_direct();
  } else if (owner_.on_this_thread()) {
    write_tls();
  } else {
    auto self = shared_from_this();
    asio::post(owner_.io(), [self] { self->write_tls(); });
  }
}

void connection::writer_done_locked() {
  flush_queued_ = false;
  inflight_ = 0;
  recycle_locked();
  update_queued_locked();
  if (state_ == out_state::closing) {
    auto self = shared_from_this();
    asio::post(owner_.io(), [self] { self->shutdown_socket(); });
  }
}

bool connection::take_queue_locked() {
  recycle_locked();
  if (discard_output_) queue_.clear();
  if (queue_.empty()) {
    writer_done_locked();
    return false;
  }
  writing_.swap(queue_);
  inflight_ = writing_.size();
  update_queued_locked();
  return true;
}

void connection::write_direct() {
  iovec iov[max_iov];
  for (;;) {
    if (writing_.empty()) {
      std::lock_guard lock(out_mu_);
      if (!take_queue_locked()) return;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = writing_.gather(iov, max_iov);
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      writing_.consume(static_cast<std::size_t>(n), freed_);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      auto self = shared_from_this();
      asio::post(owner_.io(), [self] { self->wait_writable(); });
      return;
    }
    const int err = errno;
    drop_output_and_release();
    spdlog::debug("{}:{} - cid:{} - write error: {}", ip_, port_, id_, std::strerror(err));
    close(close_reason::write_error);
    return;
  }
}

void connection::drop_output_and_release() {
  std::lock_guard lock(out_mu_);
  writing_.clear();
  queue_.clear();
  discard_output_ = true;
  writer_done_locked();
}

void connection::wait_writable() {
  auto self = shared_from_this();
  write_timer_.expires_after(core_.options().write_deadline);
  write_timer_.async_wait([self](const std::error_code& ec) {
    if (ec) return;
    spdlog::warn("{}:{} - cid:{} - Slow Consumer Detected: WriteDeadline of {}ms exceeded", self->ip_,
                 self->port_, self->id_, self->core_.options().write_deadline.count());
    self->core_.count_slow_consumer();
    self->close(close_reason::slow_consumer_deadline);
  });
  socket_.async_wait(asio::ip::tcp::socket::wait_write, [self](const std::error_code& ec) {
    self->write_timer_.cancel();
    if (ec) {
      self->drop_output_and_release();
      return;
    }
    self->write_direct();
  });
}

void connection::write_tls() {
  {
    std::lock_guard lock(out_mu_);
    if (!tls_ready_) {
      // Output before the handshake completes waits for it (start_tls flushes again); what the
      // writer held goes back in front, in order.
      queue_.prepend(std::move(writing_));
      if (discard_output_) queue_.clear();
      writer_done_locked();
      return;
    }
    if (discard_output_) writing_.clear();
    if (writing_.empty() && !take_queue_locked()) return;
  }
  iovec iov[max_iov];
  const std::size_t n = writing_.gather(iov, max_iov);
  std::vector<asio::const_buffer> bufs;
  bufs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) bufs.emplace_back(iov[i].iov_base, iov[i].iov_len);
  auto self = shared_from_this();
  write_timer_.expires_after(core_.options().write_deadline);
  write_timer_.async_wait([self](const std::error_code& ec) {
    if (ec) return;
    self->core_.count_slow_consumer();
    self->close(close_reason::slow_consumer_deadline);
  });
  asio::async_write(*tls_, bufs, [self](const std::error_code& ec, std::size_t written) {
    self->write_timer_.cancel();
    self->writing_.consume(written, self->freed_);
    if (ec) {
      self->drop_output_and_release();
      self->close(close_reason::write_error);
      return;
    }
    self->write_tls();
  });
}

}  // namespace ferry::broker
