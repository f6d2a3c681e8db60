#include "sdk/test_transport.h"

#include "base/subject_match.h"

namespace ferry::testing {

class test_transport::recording_settler : public settler {
 public:
  recording_settler(test_transport& t, message copy) : t_(t), m_(std::move(copy)) {}
  void ack() override { done(settlement::acked, {}, {}); }
  void nack(std::chrono::milliseconds delay) override { done(settlement::nacked, delay, {}); }
  void term(std::string_view reason) override { done(settlement::terminated, {}, std::string(reason)); }

 private:
  void done(settlement s, std::chrono::milliseconds delay, std::string reason) {
    settlement_record r{m_.id, m_.subject,        m_.delivery.delivery_count,      s,
                        delay, std::move(reason), std::chrono::steady_clock::now()};
    t_.record(std::move(r), s == settlement::nacked ? &m_ : nullptr);
  }
  test_transport& t_;
  message m_;  // the content as delivered, for redelivery
};

class test_transport::test_subscription : public subscription {
 public:
  test_subscription(test_transport& t, std::shared_ptr<sub_entry> e) : t_(t), e_(std::move(e)) {}
  ~test_subscription() override { stop(); }
  void stop() override {
    std::unique_lock lock(t_.mu_);
    e_->active = false;
    t_.changed_.wait(lock, [&] { return e_->running == 0; });
  }
  [[nodiscard]] const std::string& subject() const override { return e_->subject; }

 private:
  test_transport& t_;
  std::shared_ptr<sub_entry> e_;
};

test_transport::test_transport(capabilities caps) : caps_(caps) {}
test_transport::~test_transport() = default;

status test_transport::publish(message m) {
  std::lock_guard lock(mu_);
  if (failing_ != 0) {
    if (failing_ > 0) --failing_;
    return fail_with_;
  }
  if (m.id.empty()) m.id = new_id();
  published_.push_back(std::move(m));
  changed_.notify_all();
  return status::ok();
}

result<std::unique_ptr<subscription>> test_transport::subscribe(std::string subject, subscription_options options,
                                                                delivery_callback callback) {
  if (!options.group.empty() && !caps_.consumer_groups) return status(status_code::unimplemented, "no groups");
  auto e = std::make_shared<sub_entry>();
  e->subject = std::move(subject);
  e->callback = std::move(callback);
  std::lock_guard lock(mu_);
  subs_.push_back(e);
  return std::unique_ptr<subscription>(std::make_unique<test_subscription>(*this, e));
}

void test_transport::close() {
  std::lock_guard lock(mu_);
  for (auto& s : subs_) s->active = false;
}

std::size_t test_transport::deliver(message m) {
  if (m.id.empty()) m.id = new_id();
  m.delivery.transport = "test";
  m.delivery.redelivered = m.delivery.delivery_count > 1;
  std::vector<std::shared_ptr<sub_entry>> targets;
  {
    std::lock_guard lock(mu_);
    for (auto& s : subs_) {
      if (!s->active || !subject_matches(s->subject, m.subject)) continue;
      ++s->running;
      targets.push_back(s);
    }
  }
  for (auto& s : targets) {
    message copy = m;
    copy.attach(std::make_unique<recording_settler>(*this, m));
    s->callback(std::move(copy));
    std::lock_guard lock(mu_);
    --s->running;
    changed_.notify_all();
  }
  return targets.size();
}

std::size_t test_transport::redeliver_nacked() {
  std::deque<message> again;
  {
    std::lock_guard lock(mu_);
    again.swap(nacked_);
  }
  for (message& m : again) {
    ++m.delivery.delivery_count;
    deliver(std::move(m));
  }
  return again.size();
}

void test_transport::record(settlement_record r, const message* redeliver) {
  std::lock_guard lock(mu_);
  settled_.push_back(std::move(r));
  if (redeliver && caps_.redelivery) nacked_.push_back(*redeliver);
  changed_.notify_all();
}

void test_transport::fail_publishes(int n, status s) {
  std::lock_guard lock(mu_);
  failing_ = n;
  fail_with_ = std::move(s);
}

bool test_transport::wait_settled(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return settled_.size() >= n; });
}

std::vector<settlement_record> test_transport::settled() const {
  std::lock_guard lock(mu_);
  return settled_;
}

std::vector<message> test_transport::published() const {
  std::lock_guard lock(mu_);
  return published_;
}

std::size_t test_transport::subscriptions() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (auto& s : subs_) n += s->active;
  return n;
}

}  // namespace ferry::testing
