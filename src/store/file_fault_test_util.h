// Helpers of the file store's fault tests (file_fault_test.cc, compaction_test.cc): a file store on
// a fault_fs, its messages' data, a flush waited for, and a store of 40 messages of about 1 KB in
// segments of 7 that purges hollow.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "store/fault_fs.h"
#include "store/file_store.h"
#include "store/store_test_util.h"

namespace ferry::store::testing {

// A file store on a fault_fs, in a temporary directory.
struct faulty {
  explicit faulty(store_options o = {}) : opts(std::move(o)) {
    opts.fs = fs;
    open();
  }
  void open() {
    auto r = file_store::open(dir.sub("s"), opts);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    s = std::move(*r);
  }
  // Reopens on the real file system (what the next process would find).
  std::unique_ptr<file_store> reopen_posix() {
    s.reset();
    store_options o = opts;
    o.fs = nullptr;
    auto r = file_store::open(dir.sub("s"), o);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? std::move(*r) : nullptr;
  }
  std::uint64_t put(const std::string& data, const std::string& subject = "orders.1") {
    auto r = s->append(subject, "", data, static_cast<std::int64_t>(s->state().last_seq.value + 1) * 1000);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? r->value : 0;
  }

  temp_dir dir;
  std::shared_ptr<fault_fs> fs = std::make_shared<fault_fs>();
  store_options opts;
  std::unique_ptr<file_store> s;
};

inline std::vector<std::string> datas(const message_store& s) {
  std::vector<std::string> out;
  for (const stored_message& m : take_snapshot(s).messages) out.push_back(m.data);
  return out;
}

// A file kept beside the store (a consumer's ack log) in the test's directory, opened for writing.
inline std::shared_ptr<sync_file> side_file(const faulty& f) {
  const std::string path = f.dir.sub("acks.log");
  auto side = std::make_shared<sync_file>(unique_fd(::open(path.c_str(), O_WRONLY | O_CREAT, 0644)), path);
  EXPECT_TRUE(side->fd.valid()) << path;
  return side;
}

// sync_file_then(), waited for.
inline status side_synced(file_store& s, const sync_file_ptr& f) {
  std::promise<status> p;
  s.sync_file_then(f, [&p](status st) { p.set_value(std::move(st)); });
  return p.get_future().get();
}

// flush_then(), waited for.
inline status flushed(file_store& s) {
  std::promise<status> p;
  s.flush_then([&p](status st) { p.set_value(std::move(st)); });
  return p.get_future().get();
}

// 40 messages of about 1 KB in segments of 8 KiB (7 each), all written; the base of each segment.
struct compactable : faulty {
  explicit compactable(sync_policy sync) : faulty(options(sync)) {
    for (int i = 1; i <= 40; ++i) put(payload(i));
    EXPECT_TRUE(s->write().is_ok());
    EXPECT_TRUE(flushed().is_ok());
  }
  static store_options options(sync_policy sync) {
    store_options o;
    o.segment_bytes = 8 << 10;
    o.sync = sync;
    return o;
  }
  static std::string payload(std::uint64_t i) {
    return std::string(1000, static_cast<char>('a' + i % 26)) + std::to_string(i);
  }
  status flushed() { return ::ferry::store::testing::flushed(*s); }
  std::vector<std::uint64_t> bases() const {
    std::vector<std::uint64_t> out;
    for (const std::string& n : s->segment_files()) out.push_back(std::stoull(n.substr(0, 20)));
    return out;
  }
  std::uint64_t file_bytes(const std::string& name) { return std::filesystem::file_size(dir.sub("s") + "/" + name); }
  // Purges below the last message of the second segment: the oldest segment left keeps one.
  std::uint64_t purge_to_one_kept() {
    const std::vector<std::uint64_t> b = bases();
    EXPECT_GE(b.size(), 4u);
    const std::uint64_t first_kept = b[2] - 1;
    purge_request r;
    r.up_to = stream_seq{first_kept};
    auto n = s->purge(r);
    EXPECT_TRUE(n.is_ok()) << n.status().to_string();
    return first_kept;
  }
  static std::vector<std::string> payloads_from(std::uint64_t first) {
    std::vector<std::string> out;
    for (std::uint64_t i = first; i <= 40; ++i) out.push_back(payload(i));
    return out;
  }
};

}  // namespace ferry::store::testing
