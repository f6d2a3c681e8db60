#include "suite.h"

#include <random>

#include "ferry/inproc.h"

namespace ferry::conformance {

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

std::multimap<std::string, std::string> as_multimap(const header_map& h) {
  std::multimap<std::string, std::string> out;
  for (const auto& [k, v] : h) out.emplace(k, v);
  return out;
}

delivery_callback collector::acking() {
  return [this](message m) {
    m.ack();
    add(std::move(m));
  };
}

delivery_callback collector::keeping() {
  return [this](message m) { add(std::move(m)); };
}

void collector::add(message m) {
  {
    std::lock_guard lock(mu_);
    ids_.insert(m.id);
    all_.push_back(std::move(m));
  }
  cv_.notify_all();
}

bool collector::wait_unique(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return ids_.size() >= n; });
}

bool collector::wait_total(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return all_.size() >= n; });
}

std::size_t collector::unique() {
  std::lock_guard lock(mu_);
  return ids_.size();
}

std::size_t collector::total() {
  std::lock_guard lock(mu_);
  return all_.size();
}

std::set<std::string> collector::ids() {
  std::lock_guard lock(mu_);
  return ids_;
}

std::vector<message> collector::messages() {
  std::lock_guard lock(mu_);
  return all_;
}

status publish_retry(transport& t, message m, std::chrono::milliseconds timeout) {
  if (m.id.empty()) m.id = new_id();
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    status s = t.publish(m);
    if (s.is_ok() || std::chrono::steady_clock::now() > end) return s;
    std::this_thread::sleep_for(50ms);
  }
}

namespace {

// Forwards everything to a transport it does not own; close() does nothing.
class borrowed final : public transport {
 public:
  explicit borrowed(transport& t) : t_(t) {}
  [[nodiscard]] capabilities caps() const override { return t_.caps(); }
  [[nodiscard]] std::string_view name() const override { return t_.name(); }
  status publish(message m) override { return t_.publish(std::move(m)); }
  status publish(std::vector<message> ms) override { return t_.publish(std::move(ms)); }
  status flush(std::chrono::milliseconds timeout) override { return t_.flush(timeout); }
  result<std::unique_ptr<subscription>> subscribe(std::string s, subscription_options o,
                                                  delivery_callback cb) override {
    return t_.subscribe(std::move(s), std::move(o), std::move(cb));
  }
  result<message> request(message m, std::chrono::milliseconds timeout) override {
    return t_.request(std::move(m), timeout);
  }
  void close() override {}

 private:
  transport& t_;
};

std::string run_token() {
  static const std::string token = [] {
    std::mt19937_64 rng{std::random_device{}()};
    return "r" + std::to_string(rng() % 1000000);
  }();
  return token;
}

}  // namespace

void Conformance::SetUp() {
  inst_ = &find_instance(GetParam());
  if (!inst_->broker_kind.empty()) {
    std::string why;
    if (broker_for(*inst_, &why) == nullptr) {
      // A broker that is missing is a skip (make deps installs them all); one that is installed and
      // does not start is a failure, never a silent pass.
      if (why.find("not installed") == std::string::npos) FAIL() << "no broker: " << why;
      GTEST_SKIP() << "no broker: " << why;
    }
  }
  auto t = connect(*inst_);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  t_ = std::move(*t);
  static std::atomic<int> counter{0};
  const std::string test = testing::UnitTest::GetInstance()->current_test_info()->name();
  const std::string n = std::to_string(++counter);
  prefix_ = "conf." + run_token() + "_" + inst_->name + "." + test.substr(0, test.find('/')) + n;
  group_prefix_ = run_token() + "_" + inst_->name + "_" + n + "_";
}

void Conformance::TearDown() {
  if (other_) other_->close();
  if (t_) t_->close();
}

void Conformance::declare_group(const std::string& subject, const std::string& group, subscription_options o) {
  if (!inst().no_replay) return;
  o.group = group;
  auto sub = t().subscribe(subject, o, [](message m) { m.nack(); });
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  (*sub)->stop();
}

transport& Conformance::other() {
  if (inst_->single_bus) return *t_;
  std::lock_guard lock(other_mu_);  // tests call it from several threads
  if (!other_) {
    auto t = connect(*inst_);
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    if (t.is_ok()) other_ = std::move(*t);
  }
  return other_ ? *other_ : *t_;
}

std::unique_ptr<transport> Conformance::fresh() {
  if (inst_->single_bus) return std::make_unique<borrowed>(*t_);
  auto t = connect(*inst_);
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return t.is_ok() ? std::move(*t) : std::make_unique<borrowed>(*t_);
}

}  // namespace ferry::conformance
