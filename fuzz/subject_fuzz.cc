// libFuzzer target: the subject index against brute force. Inserts the fuzzer's subjects,
// then checks that sublist::match returns exactly the subscriptions whose pattern
// subject_matches() the probe subject, for every probe.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "broker/sublist.h"
#include "protocol/subject.h"

namespace {

class nop_target : public ferry::broker::delivery_target {
 public:
  bool deliver(ferry::broker::subscription&, const ferry::broker::routed_message&, ferry::broker::worker*) override {
    return true;
  }
  [[nodiscard]] std::uint64_t client_id() const override { return 1; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Lines: "+pattern" subscribes, "-pattern" unsubscribes the first match, "?subject" probes.
  static const auto target = std::make_shared<nop_target>();
  ferry::broker::sublist sl;
  std::vector<ferry::broker::subscription_ptr> subs;
  std::string text(reinterpret_cast<const char*>(data), size);
  std::size_t pos = 0;
  int id = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.size() < 2) continue;
    std::string arg = line.substr(1);
    if (line[0] == '+') {
      auto s = std::make_shared<ferry::broker::subscription>(target, arg, "", std::to_string(++id));
      const bool ok = sl.insert(s).is_ok();
      if (ok != ferry::protocol::is_valid_subject(arg)) __builtin_trap();
      if (ok) subs.push_back(s);
    } else if (line[0] == '-') {
      for (auto it = subs.begin(); it != subs.end(); ++it) {
        if ((*it)->subject == arg) {
          if (!sl.remove(*it)) __builtin_trap();
          subs.erase(it);
          break;
        }
      }
    } else if (line[0] == '?') {
      std::multiset<std::string> want;
      bool literal_ok = true;
      for (ferry::protocol::tokenizer t(arg); !t.done(); t.next()) literal_ok &= !t.token().empty();
      if (literal_ok && !arg.empty()) {
        for (const auto& s : subs)
          if (ferry::protocol::subject_matches(s->subject, arg)) want.insert(s->sid);
      }
      std::multiset<std::string> got;
      auto r = sl.match(arg);
      for (const auto& s : r->plain) got.insert(s->sid);
      if (got != want) __builtin_trap();
    }
  }
  return 0;
}
