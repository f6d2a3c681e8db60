// Helpers for the store tests: temporary directories, and the fixture of the parameterized suite
// that runs every semantic test against the memory store, the file store, and the file store
// with tiny segments (so rotation, tombstones and segment deletion happen all the time). For
// file stores the fixture reopens the store after each test and checks that recovery rebuilds
// exactly the same state and messages.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "store/file_store.h"
#include "store/store.h"

namespace ferry::store::testing {

// A fresh directory under the test temp dir, removed with everything in it.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The whole file at `path` ("" if it cannot be read).
std::string slurp(const std::string& path);

enum class store_kind { memory, file, file_small };
std::string kind_name(const ::testing::TestParamInfo<store_kind>& info);

// Everything a store reports, to compare a store before and after reopening.
struct snapshot {
  store_state st;
  std::vector<std::uint64_t> deleted;
  std::map<std::string, std::uint64_t> subjects;
  std::vector<stored_message> messages;
};
snapshot take_snapshot(const message_store& s);
void expect_same(const snapshot& a, const snapshot& b);

class store_test : public ::testing::TestWithParam<store_kind> {
 protected:
  void SetUp() override { open(); }
  void TearDown() override;

  [[nodiscard]] bool is_file() const { return GetParam() != store_kind::memory; }
  void open(const limits& l = {});
  // File stores: closes and reopens with the same options (returns false for memory).
  bool reopen();
  // The bytes a message counts for in this kind of store.
  [[nodiscard]] std::uint64_t size(std::string_view subject, std::string_view headers, std::string_view data) const;
  // Appends with timestamp seq * 1000 (unless given); fails the test on error.
  std::uint64_t put(std::string_view subject, std::string_view data = "x", std::string_view headers = {},
                    std::int64_t ts = -1);
  std::string data_at(std::uint64_t seq) const;
  void flush();

  temp_dir dir_;
  store_options opts_;
  std::unique_ptr<message_store> s_;
};

#define FERRY_STORE_SUITE(suite)                                                                          \
  INSTANTIATE_TEST_SUITE_P(All, suite,                                                                   \
                           ::testing::Values(::ferry::store::testing::store_kind::memory,                \
                                             ::ferry::store::testing::store_kind::file,                  \
                                             ::ferry::store::testing::store_kind::file_small),           \
                           ::ferry::store::testing::kind_name)

}  // namespace ferry::store::testing
