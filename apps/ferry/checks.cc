#include "checks.h"

#include "base/duration.h"
#include "base/number.h"

namespace ferry::cli {
namespace {

std::string message_of(const status& s) { return s.is_ok() ? std::string() : s.message(); }

}  // namespace

CLI::Validator subject_arg(subject_use use) {
  return {[use](std::string& s) { return message_of(check_subject(s, use)); },
          use == subject_use::publish ? "SUBJECT" : "PATTERN"};
}

CLI::Validator name_arg(const std::string& what) {
  return {[what](std::string& s) { return message_of(check_name(s, what)); }, "NAME"};
}

CLI::Validator count_arg(long long min) {
  return {[min](std::string& s) {
            const bool negative = !s.empty() && s.front() == '-';
            auto n = parse_uint(negative ? std::string_view(s).substr(1) : std::string_view(s), "number",
                                static_cast<std::uint64_t>(INT64_MAX));
            if (!n.is_ok()) return "invalid number \"" + s + "\": a whole number is expected";
            const long long v = negative ? -static_cast<long long>(*n) : static_cast<long long>(*n);
            if (v < min) return "invalid number \"" + s + "\": must be at least " + std::to_string(min);
            return std::string();
          },
          ""};
}

CLI::Validator limit_arg() { return count_arg(-1); }

CLI::Validator size_arg(bool allow_unlimited) {
  return {[allow_unlimited](std::string& s) {
            auto n = parse_size(s, allow_unlimited);
            if (!n.is_ok()) return n.status().message();
            s = std::to_string(*n);  // "1KB" reaches the option as 1024
            return std::string();
          },
          "SIZE"};
}

CLI::Validator duration_arg() {
  return {[](std::string& s) {
            return message_of(ferry::parse_duration(s, {.bare_number_unit = std::chrono::seconds(1)}).status());
          },
          "DURATION"};
}

}  // namespace ferry::cli
