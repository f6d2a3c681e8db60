// Durability: group commit under sync always (fewer fdatasyncs than flushes, every done after
// its sync), and a child process killed with SIGKILL mid-stream loses nothing it acknowledged.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "store/store_test_util.h"

namespace ferry::store::testing {
namespace {

// Each thread is a publisher that waits for its acknowledgement before publishing again, so
// up to `threads` flushes are outstanding at once; the syncs they share show group commit.
TEST(FileSync, GroupCommitSharesFsyncsBetweenConcurrentFlushes) {
  temp_dir dir;
  store_options o;
  o.sync = sync_policy::always;
  auto r = file_store::open(dir.sub("s"), o);
  ASSERT_TRUE(r.is_ok());
  std::unique_ptr<file_store> s = std::move(*r);

  constexpr int threads = 8;
  constexpr int per_thread = 40;
  std::mutex stream_mu;  // the stream layer's lock: calls into a store are serialized
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        std::mutex mu;
        std::condition_variable cv;
        bool acked = false;
        {
          std::lock_guard lk(stream_mu);
          auto seq = s->append("t." + std::to_string(t), "", "payload", i);
          if (!seq.is_ok()) ++failures;
          const std::uint64_t syncs_before = s->sync_count();
          s->flush_then([&, syncs_before](status st) {
            // Acknowledged only after a sync that began after this flush was asked for.
            if (!st.is_ok() || s->sync_count() <= syncs_before) ++failures;
            std::lock_guard al(mu);
            acked = true;
            cv.notify_one();
          });
        }
        std::unique_lock al(mu);
        if (!cv.wait_for(al, std::chrono::seconds(20), [&] { return acked; })) {
          ++failures;
          return;  // `acked` would dangle; the test fails anyway
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  const std::uint64_t syncs = s->sync_count();
  const std::uint64_t flushes = threads * per_thread;
  EXPECT_GT(syncs, 0u);
  EXPECT_LT(syncs, flushes);
  std::printf("[          ] %llu flushes shared %llu fdatasyncs\n", static_cast<unsigned long long>(flushes),
              static_cast<unsigned long long>(syncs));
  ASSERT_TRUE(s->close().is_ok());
  EXPECT_EQ(take_snapshot(*file_store::open(dir.sub("s"), o).value()).messages.size(), flushes);
}

TEST(FileSync, FlushAfterCloseFails) {
  temp_dir dir;
  store_options o;
  o.sync = sync_policy::always;
  auto s = open_file_store(dir.sub("s"), o);
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE((*s)->close().is_ok());
  status got;
  (*s)->flush_then([&got](status st) { got = std::move(st); });
  EXPECT_EQ(got.code(), status_code::failed_precondition);
}

// The stream layer's callbacks hold a reference to their stream; if that is the last one, the
// stream (and its store) is destroyed on the store's own sync thread. That must just work.
TEST(FileSync, StoreDestroyedInsideItsOwnDoneCallback) {
  temp_dir dir;
  store_options o;
  o.sync = sync_policy::always;
  std::shared_ptr<message_store> s = std::move(open_file_store(dir.sub("s"), o).value());
  ASSERT_TRUE(s->append("a", "", "kept", 1).is_ok());
  std::promise<status> done;
  message_store* raw = s.get();
  raw->flush_then([s = std::move(s), &done](status st) mutable {
    s.reset();  // the last reference: closes the store from its sync thread
    done.set_value(std::move(st));
  });
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(f.get().is_ok());
  auto again = open_file_store(dir.sub("s"), o);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ((*again)->load(stream_seq{1})->data, "kept");
}

// The child appends with sync always as fast as it can and writes each acknowledged sequence to
// a pipe from its done callback; the parent kills it with SIGKILL mid-way and then checks that
// every acknowledged message is in the store.
[[noreturn]] void child_appender(const std::string& dir, int out) {
  store_options o;
  o.sync = sync_policy::always;
  o.segment_bytes = 64 << 10;  // rotate now and then, too
  auto r = file_store::open(dir, o);
  if (!r.is_ok()) _exit(2);
  std::unique_ptr<file_store> s = std::move(*r);
  for (std::uint64_t i = 1;; ++i) {
    auto seq = s->append("k." + std::to_string(i % 7), "", "value-" + std::to_string(i), static_cast<std::int64_t>(i));
    if (!seq.is_ok()) _exit(3);
    const std::uint64_t v = seq->value;
    s->flush_then([out, v](status st) {
      if (!st.is_ok()) _exit(4);
      if (::write(out, &v, sizeof v) != sizeof v) _exit(5);
    });
    if (i % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));  // let syncs interleave
  }
}

TEST(FileSync, SigkillLosesNothingAcknowledged) {
  temp_dir dir;
  const std::string path = dir.sub("s");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    child_appender(path, fds[1]);
  }
  ::close(fds[1]);
  std::set<std::uint64_t> acked;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (acked.size() < 1000 && std::chrono::steady_clock::now() < deadline) {
    std::uint64_t v;
    if (::read(fds[0], &v, sizeof v) != sizeof v) break;
    acked.insert(v);
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  std::uint64_t v;
  while (::read(fds[0], &v, sizeof v) == sizeof v) acked.insert(v);  // until the child is gone
  ::close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited with " << WEXITSTATUS(wstatus);
  ASSERT_GT(acked.size(), 50u);

  auto r = open_file_store(path, {});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const auto& s = *r;
  EXPECT_TRUE(s->state().lost.empty());
  EXPECT_GE(s->state().last_seq.value, *acked.rbegin());
  for (const std::uint64_t q : acked) {
    auto m = s->load(stream_seq{q});
    ASSERT_TRUE(m.is_ok()) << "acknowledged message " << q << ": " << m.status().to_string();
    EXPECT_EQ(m->data, "value-" + std::to_string(q));
  }
  // Whatever was appended after the last acknowledgement is either whole or gone: every
  // sequence up to the last one is present.
  EXPECT_EQ(s->state().msgs, s->state().last_seq.value);
}

}  // namespace
}  // namespace ferry::store::testing
