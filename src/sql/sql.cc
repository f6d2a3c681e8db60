#include "ferry/sql.h"

#include <charconv>

namespace ferry::sql {

std::string_view to_string(dialect d) { return d == dialect::sqlite ? "sqlite" : "postgres"; }

const std::string& row::text(std::size_t i) const {
  static const std::string empty;
  const auto& c = cols_.at(i);
  return c ? *c : empty;
}

std::int64_t row::integer(std::size_t i) const {
  const std::string& s = text(i);
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

void transaction::run_on_commit() {
  auto hooks = std::move(on_commit_);
  on_commit_.clear();
  for (auto& f : hooks) f();
}

status database::in_transaction(const std::function<status(transaction&)>& f) {
  FERRY_ASSIGN_OR_RETURN(auto tx, begin());
  if (status s = f(*tx); !s.is_ok()) {
    tx->rollback();
    return s;
  }
  return tx->commit();
}

std::string sqlite_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;  // inside '...' or "..."
  for (char c : sql) {
    if (quote != 0) {
      if (c == quote) quote = 0;
      out += c;
      continue;
    }
    if (c == '\'' || c == '"') quote = c;
    out += (c == '$' ? '?' : c);
  }
  return out;
}

result<std::unique_ptr<database>> open(std::string_view url, options o) {
  auto starts = [&](std::string_view p) { return url.substr(0, p.size()) == p; };
  if (starts("sqlite://")) return open_sqlite(std::string(url.substr(9)), std::move(o));
  if (starts("sqlite:")) return open_sqlite(std::string(url.substr(7)), std::move(o));
  if (starts("postgres://") || starts("postgresql://") || url.find('=') != std::string_view::npos) {
    return open_postgres(std::string(url), std::move(o));
  }
  return invalid_argument("database url \"" + std::string(url) +
                          "\": expected sqlite:/path/to/file.db, sqlite::memory: or postgres://user@host:port/db");
}

}  // namespace ferry::sql
