// result<T>: either a value or the status that explains why there is none.
//
//   result<int> parse(std::string_view s);
//   FERRY_ASSIGN_OR_RETURN(int n, parse("12"));
//
// Accessing the value of a failed result is a programmer bug and aborts (FERRY_CHECK).
#pragma once

#include <type_traits>
#include <utility>
#include <variant>

#include "ferry/check.h"
#include "ferry/status.h"

namespace ferry {

template <class T>
class [[nodiscard]] result {
 public:
  // REQUIRES: !s.is_ok()
  result(ferry::status s) : v_(std::move(s)) { FERRY_CHECK(!std::get<1>(v_).is_ok()); }  // NOLINT
  result(T value) : v_(std::move(value)) {}                                           // NOLINT
  template <class U>
    requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
             !std::is_same_v<std::decay_t<U>, ferry::status>)
  result(U&& value) : v_(T(std::forward<U>(value))) {}  // NOLINT

  [[nodiscard]] bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }

  // The status: OK when a value is held.
  [[nodiscard]] ferry::status status() const {
    return is_ok() ? ferry::status::ok() : std::get<1>(v_);
  }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return const_cast<result*>(this)->checked(); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &const_cast<result*>(this)->checked(); }

 private:
  T& checked() {
    FERRY_CHECK(is_ok());
    return std::get<0>(v_);
  }
  std::variant<T, ferry::status> v_;
};

}  // namespace ferry

#define FERRY_CONCAT_INNER_(a, b) a##b
#define FERRY_CONCAT_(a, b) FERRY_CONCAT_INNER_(a, b)
#define FERRY_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.is_ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
// Evaluates `expr` (a result<T>); on failure returns its status, else assigns the value to `lhs`.
#define FERRY_ASSIGN_OR_RETURN(lhs, expr) \
  FERRY_ASSIGN_OR_RETURN_IMPL_(FERRY_CONCAT_(ferry_result_, __LINE__), lhs, expr)
