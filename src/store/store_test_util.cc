#include "store/store_test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

namespace ferry::store::testing {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

temp_dir::temp_dir() {
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/ferry_store_XXXXXX";
  const char* p = ::mkdtemp(tmpl.data());
  EXPECT_NE(p, nullptr);
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string kind_name(const ::testing::TestParamInfo<store_kind>& info) {
  switch (info.param) {
    case store_kind::memory: return "memory";
    case store_kind::file: return "file";
    case store_kind::file_small: return "file_small_segments";
  }
  return "unknown";
}

snapshot take_snapshot(const message_store& s) {
  snapshot out;
  out.st = s.state();
  out.deleted = s.deleted();
  out.subjects = s.subjects("");
  for (auto m = s.load_next(stream_seq{0}, ""); m.is_ok(); m = s.load_next(m->seq.next(), "")) {
    out.messages.push_back(*m);
  }
  return out;
}

void expect_same(const snapshot& a, const snapshot& b) {
  EXPECT_EQ(a.st.msgs, b.st.msgs);
  EXPECT_EQ(a.st.bytes, b.st.bytes);
  EXPECT_EQ(a.st.first_seq, b.st.first_seq);
  EXPECT_EQ(a.st.last_seq, b.st.last_seq);
  EXPECT_EQ(a.st.first_ts_ns, b.st.first_ts_ns);
  EXPECT_EQ(a.st.num_subjects, b.st.num_subjects);
  EXPECT_EQ(a.st.num_deleted, b.st.num_deleted);
  EXPECT_EQ(a.st.lost, b.st.lost);
  EXPECT_EQ(a.deleted, b.deleted);
  EXPECT_EQ(a.subjects, b.subjects);
  ASSERT_EQ(a.messages.size(), b.messages.size());
  for (std::size_t i = 0; i < a.messages.size(); ++i) {
    EXPECT_EQ(a.messages[i].seq, b.messages[i].seq);
    EXPECT_EQ(a.messages[i].subject, b.messages[i].subject);
    EXPECT_EQ(a.messages[i].headers, b.messages[i].headers);
    EXPECT_EQ(a.messages[i].data, b.messages[i].data);
    EXPECT_EQ(a.messages[i].timestamp_ns, b.messages[i].timestamp_ns);
  }
}

void store_test::open(const limits& l) {
  opts_.lim = l;
  if (GetParam() == store_kind::file_small) opts_.segment_bytes = 256;
  if (!is_file()) {
    s_ = make_memory_store(opts_);
    return;
  }
  auto r = open_file_store(dir_.sub("stream"), opts_);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  s_ = std::move(*r);
}

bool store_test::reopen() {
  if (!is_file()) return false;
  EXPECT_TRUE(s_->close().is_ok());
  s_.reset();
  auto r = open_file_store(dir_.sub("stream"), opts_);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  if (!r.is_ok()) return false;
  s_ = std::move(*r);
  return true;
}

void store_test::TearDown() {
  if (!is_file() || !s_ || HasFailure()) return;
  // Whatever the test did, recovery must rebuild the same store.
  const snapshot before = take_snapshot(*s_);
  ASSERT_TRUE(reopen());
  expect_same(before, take_snapshot(*s_));
  EXPECT_TRUE(s_->state().lost.empty());
}

std::uint64_t store_test::size(std::string_view subject, std::string_view headers, std::string_view data) const {
  return is_file() ? file_msg_size(subject.size(), headers.size(), data.size())
                   : memory_msg_size(subject.size(), headers.size(), data.size());
}

std::uint64_t store_test::put(std::string_view subject, std::string_view data, std::string_view headers,
                              std::int64_t ts) {
  const std::int64_t t = ts >= 0 ? ts : static_cast<std::int64_t>(s_->state().last_seq.value + 1) * 1000;
  auto r = s_->append(subject, headers, data, t);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r->value : 0;
}

std::string store_test::data_at(std::uint64_t seq) const {
  auto m = s_->load(stream_seq{seq});
  return m.is_ok() ? m->data : "<" + m.status().to_string() + ">";
}

void store_test::flush() {
  // The fixture's stores call back at once (memory, or sync interval).
  auto got = std::make_shared<std::optional<status>>();
  s_->flush_then([got](status s) { *got = std::move(s); });
  ASSERT_TRUE(got->has_value());
  EXPECT_TRUE(got->value().is_ok()) << got->value().to_string();
}

}  // namespace ferry::store::testing
