#include "store/file_io.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "store/store.h"
#include "store/store_test_util.h"

namespace ferry::store {
namespace {

TEST(FileIo, WriteFileAtomicReplacesContents) {
  testing::temp_dir d;
  const std::string p = d.sub("meta.json");
  ASSERT_TRUE(write_file_atomic(p, "first").is_ok());
  ASSERT_TRUE(write_file_atomic(p, "second, longer").is_ok());
  auto r = read_file(p);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r, "second, longer");
  struct stat st {};
  EXPECT_NE(::stat((p + ".tmp").c_str(), &st), 0);  // no temporary left behind
}

TEST(FileIo, ReadFileMissingIsNotFound) {
  testing::temp_dir d;
  auto r = read_file(d.sub("nope"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), status_code::not_found);
}

TEST(FileIo, WriteFileAtomicIntoMissingDirectoryFails) {
  testing::temp_dir d;
  EXPECT_EQ(write_file_atomic(d.sub("no/such/dir/x"), "x").code(), status_code::not_found);
}

TEST(FileIo, ReadFileEmptyAndBinary) {
  testing::temp_dir d;
  const std::string bin("\0\x01\xFF\0", 4);
  ASSERT_TRUE(write_file_atomic(d.sub("b"), bin).is_ok());
  EXPECT_EQ(*read_file(d.sub("b")), bin);
  ASSERT_TRUE(write_file_atomic(d.sub("e"), "").is_ok());
  EXPECT_EQ(*read_file(d.sub("e")), "");
}

TEST(FileIo, MakeDirsCreatesParentsAndRefusesFiles) {
  testing::temp_dir d;
  EXPECT_TRUE(make_dirs(d.sub("a/b/c")).is_ok());
  EXPECT_TRUE(make_dirs(d.sub("a/b/c")).is_ok());
  std::ofstream(d.sub("file")) << "x";
  EXPECT_FALSE(make_dirs(d.sub("file")).is_ok());
}

// The file_system versions: make_dirs creates parents too (and syncs their parents); remove_tree
// removes a tree, and a missing one (an ephemeral consumer never had a directory) is no error,
// even where its parent is missing too.
TEST(FileIo, FileSystemMakeDirsAndRemoveTree) {
  testing::temp_dir d;
  file_system& fs = posix_fs();
  ASSERT_TRUE(fs.make_dirs(d.sub("s/consumers/c")).is_ok());
  std::ofstream(d.sub("s/consumers/c/acks.log")) << "x";
  ASSERT_TRUE(fs.remove_tree(d.sub("s/consumers/c")).is_ok());
  struct stat st {};
  EXPECT_NE(::stat(d.sub("s/consumers/c").c_str(), &st), 0);
  EXPECT_EQ(::stat(d.sub("s/consumers").c_str(), &st), 0);
  EXPECT_TRUE(fs.remove_tree(d.sub("s/consumers/c")).is_ok());
  EXPECT_TRUE(fs.remove_tree(d.sub("t/consumers/e")).is_ok());
}

}  // namespace
}  // namespace ferry::store
