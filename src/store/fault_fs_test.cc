// fault_fs itself (the test disk of the store's fault tests): what a power loss undoes.
#include "store/fault_fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

#include "store/store.h"
#include "store/store_test_util.h"

namespace ferry::store::testing {
namespace {

std::size_t count_of(const std::string& dir, const std::string& name) {
  return std::filesystem::exists(dir + "/" + name) ? 1 : 0;
}

// The test disk itself: a name changed since its directory's last sync is as it was after a power
// loss (a new file or directory vanishes, a removed file comes back with its durable bytes, a
// removed tree comes back, a rename is undone), and a directory sync makes the changes before it
// durable.
TEST(FaultFs, APowerLossUndoesTheNamesItsDirectoryDidNotSync) {
  temp_dir dir;
  const std::string d = dir.path();
  std::ofstream(d + "/old", std::ios::binary) << "durable";  // there before the fs: durable
  std::ofstream(d + "/renamed", std::ios::binary) << "before";
  std::ofstream(d + "/gone", std::ios::binary) << "gone";
  fault_fs fs;
  auto write_synced = [&fs](const std::string& path, const std::string& data) {
    unique_fd fd = fs.create(path, O_WRONLY | O_TRUNC).value();
    ASSERT_TRUE(fs.write_at(fd.get(), data, 0, path).is_ok());
    ASSERT_TRUE(fs.sync(fd.get(), false, path).is_ok());  // its bytes, not its name
  };
  write_synced(d + "/synced", "s");
  ASSERT_TRUE(fs.remove(d + "/gone").is_ok());
  ASSERT_TRUE(fs.sync_directory(d).is_ok());
  // make_dirs syncs the parent of each directory it creates: a failed sync leaves them new.
  ASSERT_TRUE(fs.make_dirs(d + "/made/deep").is_ok());
  ASSERT_TRUE(fs.make_dirs(d + "/tree/sub").is_ok());
  std::ofstream(d + "/tree/sub/f", std::ios::binary) << "in the tree";
  // Not followed by a directory sync:
  fs.fail_syncs(EIO);
  EXPECT_FALSE(fs.make_dirs(d + "/unsynced/deep").is_ok());
  EXPECT_FALSE(fs.remove_tree(d + "/tree").is_ok());  // removed, its parent's sync failed
  fs.heal();
  EXPECT_EQ(count_of(d, "tree"), 0u);
  write_synced(d + "/new", "n");
  ASSERT_TRUE(fs.remove(d + "/old").is_ok());
  write_synced(d + "/renamed.tmp", "after");
  ASSERT_TRUE(fs.rename(d + "/renamed.tmp", d + "/renamed").is_ok());
  EXPECT_EQ(read_file(d + "/renamed").value(), "after");
  fs.power_loss();
  EXPECT_TRUE(std::filesystem::is_directory(d + "/made/deep"));
  EXPECT_EQ(count_of(d, "unsynced"), 0u);
  EXPECT_EQ(read_file(d + "/tree/sub/f").value(), "in the tree");
  EXPECT_EQ(read_file(d + "/synced").value(), "s");
  EXPECT_EQ(count_of(d, "gone"), 0u);
  EXPECT_EQ(count_of(d, "new"), 0u);
  EXPECT_EQ(count_of(d, "renamed.tmp"), 0u);
  EXPECT_EQ(read_file(d + "/old").value(), "durable");
  EXPECT_EQ(read_file(d + "/renamed").value(), "before");
}

}  // namespace
}  // namespace ferry::store::testing
