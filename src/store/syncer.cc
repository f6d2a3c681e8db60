#include "store/syncer.h"

#include <algorithm>
#include <atomic>
#include <chrono>

namespace ferry::store {

struct syncer::state {
  state(sync_policy p, std::int64_t interval, file_system& f) : policy(p), interval_ns(interval), fs(f) {}

  status sync_one(const sync_file& f) {
    std::unique_lock<std::mutex> lk;
    if (f.keeps_failure) lk = std::unique_lock(f.mu);
    if (f.failed.load(std::memory_order_acquire)) {
      return io_error("sync " + f.name +
                      ": an earlier sync of it failed, so what was written to it since its last "
                      "good one may be lost");
    }
    syncs.fetch_add(1, std::memory_order_relaxed);
    status s = fs.sync(f.fd.get(), f.is_dir, f.name);
    if (!s.is_ok() && f.keeps_failure) f.failed.store(true, std::memory_order_release);
    return s;
  }
  status sync_all(std::vector<sync_file_ptr>& files) {
    status first;
    for (const auto& f : files) {
      status s = sync_one(*f);
      if (first.is_ok()) first = std::move(s);
    }
    files.clear();
    return first;
  }

  struct waiter {
    std::function<void(status)> done;
    std::uint64_t since;  // the first round whose failure is this request's too
  };
  // The outcome for a request completed by round `gen`: its own, or the latest failure of an
  // earlier round from `since` on (whether or not earlier ones failed too, the request fails).
  status outcome(std::uint64_t since, std::uint64_t gen, const status& own) const {
    if (own.is_ok() && failed_gen >= since && failed_gen < gen) return failed_why;
    return own;
  }

  const sync_policy policy;
  const std::int64_t interval_ns;
  file_system& fs;
  std::atomic<std::uint64_t> syncs{0};

  std::uint64_t failed_gen = 0;  // the latest round whose sync failed; only the thread touches it
  status failed_why;             // and its error

  std::mutex mu;
  std::condition_variable cv;
  std::vector<sync_file_ptr> dirty;  // guarded by mu
  std::vector<waiter> queue;         // guarded by mu
  std::uint64_t taken = 0;           // guarded by mu; rounds that took their snapshot
  bool stopping = false;             // guarded by mu
  status final_status;               // guarded by mu; set as the thread exits
};

syncer::syncer(sync_policy policy, std::int64_t interval_ns, file_system& fs)
    : st_(std::make_shared<state>(policy, std::max<std::int64_t>(interval_ns, 1'000'000), fs)) {
  thread_ = std::thread([st = st_] { run(st); });
}

syncer::~syncer() { (void)stop(); }  // close() reports stop()'s error; a destructor has no one to tell

std::uint64_t syncer::dirty(sync_file_ptr f) {
  std::lock_guard lk(st_->mu);
  const std::uint64_t gen = st_->taken + 1;
  for (const auto& d : st_->dirty) {
    if (d == f) return gen;
  }
  st_->dirty.push_back(std::move(f));
  return gen;
}

void syncer::request(std::function<void(status)> done, std::uint64_t since) {
  {
    std::lock_guard lk(st_->mu);
    if (!st_->stopping) {
      st_->queue.push_back({std::move(done), since == 0 ? std::max<std::uint64_t>(st_->taken, 1) : since});
      st_->cv.notify_one();
      return;
    }
  }
  done(failed_precondition("store is closed"));
}

status syncer::sync_one(const sync_file& f) { return st_->sync_one(f); }

std::uint64_t syncer::sync_count() const { return st_->syncs.load(std::memory_order_relaxed); }

void syncer::run(const std::shared_ptr<state>& st) {
  std::unique_lock lk(st->mu);
  std::vector<sync_file_ptr> files;
  std::vector<state::waiter> batch;
  for (;;) {
    if (st->policy == sync_policy::always) {
      st->cv.wait(lk, [&] { return st->stopping || !st->queue.empty(); });
      if (st->queue.empty()) break;  // stopping, nothing left to complete
      // Everything queued now shares the next sync: each request was queued after its bytes
      // were written and marked dirty, so this snapshot or an earlier one has them, and a
      // request learns of a failure of any of those (state::outcome).
      batch.swap(st->queue);
      files.swap(st->dirty);
      const std::uint64_t gen = ++st->taken;
      lk.unlock();
      const status s = st->sync_all(files);
      if (!s.is_ok()) {
        st->failed_gen = gen;
        st->failed_why = s;
      }
      for (auto& w : batch) w.done(st->outcome(w.since, gen, s));
      batch.clear();  // the callbacks' captures die here, on this thread, without the lock
      lk.lock();
    } else {
      st->cv.wait_for(lk, std::chrono::nanoseconds(st->interval_ns), [&] { return st->stopping; });
      if (st->stopping) break;
      files.swap(st->dirty);
      lk.unlock();
      (void)st->sync_all(files);  // a periodic sync's error has no one to tell; close() reports
      lk.lock();
    }
  }
  files.swap(st->dirty);
  lk.unlock();
  status s = st->sync_all(files);
  lk.lock();
  st->final_status = std::move(s);
}

status syncer::stop() {
  {
    std::lock_guard lk(st_->mu);
    st_->stopping = true;
    st_->cv.notify_one();
  }
  if (!thread_.joinable()) return status::ok();
  if (std::this_thread::get_id() == thread_.get_id()) {
    thread_.detach();  // inside a `done`: the thread finishes and syncs on its own
    return status::ok();
  }
  thread_.join();
  std::lock_guard lk(st_->mu);
  return st_->final_status;
}

}  // namespace ferry::store
