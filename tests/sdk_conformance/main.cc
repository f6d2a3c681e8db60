// The conformance suite's main: runs every test, then prints which test ran (or was skipped,
// and why) on which transport.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "environment.h"

namespace ferry::conformance {
namespace {

// Records the outcome of each parameterized test: test name -> instance -> cell.
class report final : public testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const testing::TestInfo& info) override {
    std::string name = info.name();  // "Test/instance"
    const std::size_t slash = name.rfind('/');
    if (slash == std::string::npos) return;
    const std::string test = name.substr(0, slash), inst = name.substr(slash + 1);
    if (std::find(order_.begin(), order_.end(), test) == order_.end()) order_.push_back(test);
    const testing::TestResult& r = *info.result();
    std::string cell = "ok";
    if (r.Failed()) {
      cell = "FAIL";
    } else if (r.Skipped()) {
      cell = "skip";
      for (int i = 0; i < r.total_part_count(); ++i) {
        const auto& part = r.GetTestPartResult(i);
        if (part.skipped() && part.message() != nullptr && *part.message() != '\0')
          cell = "skip: " + std::string(part.message());
      }
    }
    cells_[test][inst] = cell;
  }

  void OnTestProgramEnd(const testing::UnitTest&) override {
    std::vector<std::string> cols;
    for (const auto& i : instances()) cols.push_back(i.name);
    std::size_t w0 = 4;
    for (const auto& t : order_) w0 = std::max(w0, t.size());
    std::map<std::string, std::size_t> w;
    for (const auto& c : cols) {
      w[c] = c.size();
      for (const auto& t : order_) w[c] = std::max(w[c], short_cell(cells_[t][c]).size());
    }
    std::printf("\nSDK conformance: which test ran on which transport\n");
    std::printf("%-*s", static_cast<int>(w0), "test");
    for (const auto& c : cols) std::printf(" | %-*s", static_cast<int>(w[c]), c.c_str());
    std::printf("\n");
    for (const auto& t : order_) {
      std::printf("%-*s", static_cast<int>(w0), t.c_str());
      for (const auto& c : cols) std::printf(" | %-*s", static_cast<int>(w[c]), short_cell(cells_[t][c]).c_str());
      std::printf("\n");
    }
    std::printf("(skip reasons: the capability the transport does not declare, or the broker it lacks)\n");
    std::fflush(stdout);
  }

 private:
  static std::string short_cell(const std::string& c) {
    if (c.empty()) return "-";
    std::string s = c;
    if (s.starts_with("skip: needs capability ")) s = "skip (" + s.substr(23) + ")";
    if (s.starts_with("skip: ")) s = "skip (" + s.substr(6) + ")";
    if (s.size() > 36) s = s.substr(0, 33) + "...";
    return s;
  }
  std::vector<std::string> order_;
  std::map<std::string, std::map<std::string, std::string>> cells_;
};

class brokers_env final : public testing::Environment {
 public:
  void TearDown() override { stop_brokers(); }
};

}  // namespace
}  // namespace ferry::conformance

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  spdlog::set_level(spdlog::level::warn);
  testing::UnitTest::GetInstance()->listeners().Append(new ferry::conformance::report);
  testing::AddGlobalTestEnvironment(new ferry::conformance::brokers_env);
  return RUN_ALL_TESTS();
}
