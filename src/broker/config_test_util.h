// Helpers shared by the config tests (config_parser_test.cc, config_file_test.cc).
#pragma once

#include "broker/config_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "broker/config_parser.h"

namespace ferry::broker {
namespace config_test {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Applies `text` as "t.conf" onto default options; fails the test on an error.
inline server_options apply_ok(std::string_view text) {
  server_options o;
  status s = apply_config_text(text, "t.conf", "", o);
  EXPECT_TRUE(s.is_ok()) << s.to_string() << "\nin:\n" << text;
  return o;
}

// Applies `text` as "t.conf" and returns the error message; fails the test if it applies.
inline std::string apply_error(std::string_view text) {
  server_options o;
  status s = apply_config_text(text, "t.conf", "", o);
  EXPECT_EQ(s.code(), status_code::invalid_argument) << s.to_string() << "\nin:\n" << text;
  return s.message();
}

// The top-level tree of `text`; fails the test on an error.
inline config_value parse_ok(std::string_view text) {
  result<config_value> r = parse_config(text, "t.conf", "");
  EXPECT_TRUE(r.is_ok()) << r.status().to_string() << "\nin:\n" << text;
  return r.is_ok() ? std::move(r).value() : config_value();
}

inline const config_value* find(const config_value& map, std::string_view key) {
  for (const config_entry& e : map.entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

// A directory of its own per test, removed afterwards.
class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ferry_config_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, std::string_view text) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

}  // namespace config_test
}  // namespace ferry::broker
