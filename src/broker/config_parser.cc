#include "broker/config_parser.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace ferry::broker {

status config_error(const config_position& at, std::string_view what) {
  std::string m = at.file;
  m += ':';
  m += std::to_string(at.line);
  m += ": ";
  m += what;
  return invalid_argument(std::move(m));
}

std::string_view config_kind_name(config_kind k) {
  switch (k) {
    case config_kind::string: return "a string";
    case config_kind::integer: return "an integer";
    case config_kind::floating: return "a float";
    case config_kind::boolean: return "a boolean";
    case config_kind::datetime: return "a date";
    case config_kind::array: return "an array";
    case config_kind::map: return "a map";
  }
  return "a value";
}

namespace {

// Includes, and variables taken from the environment, nest at most this deep: deeper means a
// file includes itself, or a variable refers to itself.
constexpr int max_include_depth = 16;
// Arrays and maps nest at most this deep, so that hostile input cannot exhaust the stack.
constexpr int max_nesting = 64;

bool is_blank(int c) { return c == ' ' || c == '\t'; }
bool is_newline(int c) { return c == '\n' || c == '\r'; }
bool is_space(int c) { return is_blank(c) || is_newline(c) || c == '\v' || c == '\f'; }
bool is_digit(int c) { return c >= '0' && c <= '9'; }
int hex_digit(int c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One character for a message: 'x', "a new line" or "the end of the file" (c < 0).
std::string describe_char(int c) {
  if (c < 0) return "the end of the file";
  if (is_newline(c)) return "a new line";
  return std::string("'") + static_cast<char>(c) + "'";
}

// Bytes per unit of a size suffix, as nats-server reads them: k, m, g, t, p, e are powers of
// 1000; with b, i or ib after them (kb, ki, kib) powers of 1024. Zero: not a suffix.
std::int64_t size_multiplier(std::string_view suffix) {
  if (suffix.empty()) return 0;
  static constexpr std::string_view letters = "kmgtpe";
  const std::size_t power = letters.find(suffix[0]);
  if (power == std::string_view::npos) return 0;
  const std::string_view rest = suffix.substr(1);
  const bool binary = rest == "b" || rest == "i" || rest == "ib";
  if (!rest.empty() && !binary) return 0;
  std::int64_t m = 1;
  for (std::size_t i = 0; i <= power; ++i) m *= binary ? 1024 : 1000;
  return m;
}

// "2006-01-02T15:04:05Z", the only date form nats-server reads.
bool is_zulu_date(std::string_view s) {
  static constexpr std::string_view shape = "0000-00-00T00:00:00Z";
  if (s.size() != shape.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (shape[i] == '0' ? !is_digit(s[i]) : s[i] != shape[i]) return false;
  }
  return true;
}

result<std::string> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return errno_status("open " + path, errno);
  std::string text;
  char buf[8192];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) return errno_status("read " + path, err);
  return text;
}

// A recursive-descent reader over the whole text, following nats-server's lexer: values end
// at a new line, ',' or ';' (and ']' or '}' where those close something); keys end at a
// blank or a separator. Maps being read are kept on `scopes_` so that `$name` can see the
// keys defined before it in every enclosing map.
class parser {
 public:
  parser(std::string_view text, std::string origin, std::string base_dir, int depth)
      : text_(text), origin_(std::move(origin)), base_dir_(std::move(base_dir)), depth_(depth) {}

  result<config_value> parse_document() {
    config_value top;
    top.kind = config_kind::map;
    top.at = here();
    scopes_.push_back(&top);
    status s = parse_entries(top, false);
    scopes_.pop_back();
    if (!s.is_ok()) return s;
    return top;
  }

  // Reads the value of environment variable `name`, referred to at `at`, as one value.
  status parse_environment_value(const std::string& name, const config_position& at, config_value& out) {
    line_ = at.line;
    context_ = "environment variable " + name + ": ";
    skip_blanks();
    if (peek() < 0) {
      out.kind = config_kind::string;  // set but empty, as nats-server reads it
    } else {
      FERRY_RETURN_IF_ERROR(parse_value(out));
      skip_blanks();
      if (peek() >= 0) return syntax_error(here(), "unexpected " + describe_char(peek()) + " after the value");
    }
    out.at = at;
    return status::ok();
  }

 private:
  int peek(std::size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? static_cast<unsigned char>(text_[pos_ + ahead]) : -1;
  }
  char next() {
    const char c = text_[pos_++];
    if (c == '\n') ++line_;
    return c;
  }
  config_position here() const { return {origin_, line_}; }
  status syntax_error(const config_position& at, std::string_view what) const {
    return config_error(at, "syntax error: " + context_ + std::string(what));
  }

  void skip_blanks() {
    while (is_blank(peek())) next();
  }
  // Skips a '#' or '//' comment up to (not including) the end of its line.
  bool skip_comment() {
    if (peek() != '#' && !(peek() == '/' && peek(1) == '/')) return false;
    while (peek() >= 0 && !is_newline(peek())) next();
    return true;
  }
  void skip_space_and_comments() {
    for (;;) {
      if (is_space(peek())) {
        next();
      } else if (!skip_comment()) {
        return;
      }
    }
  }

  // Reads `key: value` entries into `map` until its '}' (in_block) or the end of the text.
  status parse_entries(config_value& map, bool in_block) {
    for (;;) {
      skip_space_and_comments();
      const int c = peek();
      if (c < 0) {
        if (in_block) return syntax_error(map.at, "'{' is never closed");
        return status::ok();
      }
      if (c == '}' && in_block) {
        next();
        return status::ok();
      }
      // nats-server lets a whole file sit inside one pair of braces.
      if (!in_block && (c == '{' || c == '}')) {
        next();
        continue;
      }
      FERRY_RETURN_IF_ERROR(parse_entry(map, in_block));
    }
  }

  status parse_entry(config_value& map, bool in_block) {
    config_entry e;
    e.at = here();
    int c = peek();
    if (c == ':' || c == '=' || c == ',' || c == ';' || c == '[' || c == ']') {
      return syntax_error(e.at, "expected a key, found " + describe_char(c));
    }
    if (c == '"' || c == '\'') {
      const char quote = next();
      while (peek() != quote) {
        if (peek() < 0 || is_newline(peek())) return syntax_error(e.at, "quoted key is never closed");
        e.key += next();
      }
      next();
    } else {
      // Unlike nats-server, '{' also ends a key, so that `tls{` reads as `tls {`.
      while (peek() >= 0 && !is_space(peek()) && peek() != ':' && peek() != '=' && peek() != '{') e.key += next();
      if (e.key.empty()) return syntax_error(e.at, "expected a key, found " + describe_char(c));
      if (ascii_lower(e.key) == "include" && is_space(peek())) return parse_include(map, e.at);
    }

    // The separator is optional; without one the value may even start on a later line.
    while (is_space(peek())) next();
    if (peek() == ':' || peek() == '=') {
      next();
      skip_blanks();
      if (in_block) {
        while (is_space(peek())) next();
      }
    }
    if (peek() < 0) return syntax_error(e.at, "\"" + e.key + "\" has no value");
    if (is_newline(peek())) return syntax_error(e.at, "expected a value for \"" + e.key + "\", found a new line");
    FERRY_RETURN_IF_ERROR(parse_value(e.value));
    FERRY_RETURN_IF_ERROR(end_of_entry(e.key));
    set_entry(map, std::move(e));
    return status::ok();
  }

  // After a value: blanks, then a new line, ',', ';', a comment, '}' or the end.
  status end_of_entry(const std::string& key) {
    skip_blanks();
    const int c = peek();
    if (c < 0 || c == '}' || c == '#' || (c == '/' && peek(1) == '/')) return status::ok();
    if (is_newline(c) || c == ',' || c == ';') {
      next();
      return status::ok();
    }
    return syntax_error(
        here(), "expected a new line, ',' or ';' after the value of \"" + key + "\", found " + describe_char(c));
  }

  // A later definition of a key replaces the earlier one, as in nats-server.
  static void set_entry(config_value& map, config_entry e) {
    for (auto it = map.entries.begin(); it != map.entries.end(); ++it) {
      if (it->key == e.key) {
        map.entries.erase(it);
        break;
      }
    }
    map.entries.push_back(std::move(e));
  }

  status parse_value(config_value& out) {
    out.at = here();
    const int c = peek();
    if (c < 0 || is_newline(c)) return syntax_error(out.at, "expected a value, found " + describe_char(c));
    if (c == '[' || c == '{') {
      if (nesting_ >= max_nesting) return syntax_error(out.at, "arrays and maps nest too deeply");
      ++nesting_;
      status s = c == '[' ? parse_array(out) : parse_map(out);
      --nesting_;
      return s;
    }
    if (c == '"') return parse_double_quoted(out);
    if (c == '\'') {
      next();
      while (peek() != '\'') {
        if (peek() < 0) return syntax_error(out.at, "string is never closed (missing ')");
        out.text += next();
      }
      next();
      return status::ok();
    }
    if (c == '(') return parse_block_string(out);
    return parse_bare(out);
  }

  status parse_map(config_value& out) {
    next();
    out.kind = config_kind::map;
    scopes_.push_back(&out);
    status s = parse_entries(out, true);
    scopes_.pop_back();
    return s;
  }

  status parse_array(config_value& out) {
    next();
    out.kind = config_kind::array;
    for (;;) {
      skip_space_and_comments();
      int c = peek();
      if (c < 0) return syntax_error(out.at, "'[' is never closed");
      if (c == ']') {
        next();
        return status::ok();
      }
      if (c == ',') return syntax_error(here(), "unexpected ',' in an array");
      config_value item;
      FERRY_RETURN_IF_ERROR(parse_value(item));
      out.items.push_back(std::move(item));
      skip_blanks();
      if (skip_comment()) continue;
      c = peek();
      if (c == ',' || is_newline(c)) {
        next();
      } else if (c == ']') {
        next();
        return status::ok();
      } else if (c < 0) {
        return syntax_error(out.at, "'[' is never closed");
      } else {
        return syntax_error(here(), "expected ',' or ']' after an array element, found " + describe_char(c));
      }
    }
  }

  // "...": may span lines; escapes \t \n \r \" \\ and \xHH, as in nats-server.
  status parse_double_quoted(config_value& out) {
    next();
    for (;;) {
      const int c = peek();
      if (c < 0) return syntax_error(out.at, "string is never closed (missing \")");
      if (c == '"') {
        next();
        return status::ok();
      }
      if (c == '\\') {
        next();
        FERRY_RETURN_IF_ERROR(parse_escape(out.text));
      } else {
        out.text += next();
      }
    }
  }

  // After a backslash.
  status parse_escape(std::string& out) {
    const int c = peek();
    switch (c) {
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case 'x': {
        const int hi = hex_digit(peek(1));
        const int lo = hex_digit(peek(2));
        if (hi < 0 || lo < 0) return syntax_error(here(), "expected two hexadecimal digits after \\x");
        next();
        next();
        out += static_cast<char>(hi * 16 + lo);
        break;
      }
      default:
        return syntax_error(here(), "invalid escape \\" +
                                        (c < 0 ? std::string() : std::string(1, static_cast<char>(c))) +
                                        " (allowed: \\t \\n \\r \\\" \\\\ \\xHH)");
    }
    next();
    return status::ok();
  }

  // "(" up to a line holding only ")": the text between, new lines included, as nats-server.
  status parse_block_string(config_value& out) {
    next();
    for (;;) {
      const int c = peek();
      if (c < 0) return syntax_error(out.at, "'(' is never closed (a ')' alone on a line ends it)");
      if (c == ')' && pos_ > 0 && text_[pos_ - 1] == '\n' && (peek(1) < 0 || is_newline(peek(1)))) {
        next();
        return status::ok();
      }
      out.text += next();
    }
  }

  // An unquoted word: a boolean, a number, a `$variable`, or else a string.
  status parse_bare(config_value& out) {
    bool escaped = false;
    for (int c = peek(); c >= 0 && !is_space(c) && c != ';' && c != ',' && c != ']' && c != '}'; c = peek()) {
      if (c == '\\') {
        next();
        escaped = true;
        FERRY_RETURN_IF_ERROR(parse_escape(out.text));
      } else {
        out.text += next();
      }
    }
    const std::string& s = out.text;
    if (s.empty() && !escaped) return syntax_error(out.at, "expected a value, found " + describe_char(peek()));
    if (escaped) return status::ok();
    const std::string l = ascii_lower(s);
    if (l == "true" || l == "yes" || l == "on" || l == "false" || l == "no" || l == "off") {
      out.kind = config_kind::boolean;
      out.boolean = l == "true" || l == "yes" || l == "on";
      return status::ok();
    }
    if (s[0] == '$') return resolve_variable(s.substr(1), out);
    if (is_digit(s[0]) || (s[0] == '-' && s.size() > 1 && is_digit(s[1]))) return classify_number(out);
    return status::ok();
  }

  // Integers (with size suffixes), floats and dates; any other word that starts with a digit
  // (an address, "2s") stays a string, as in nats-server 2.9.
  status classify_number(config_value& out) {
    const std::string& s = out.text;
    if (is_zulu_date(s)) {
      out.kind = config_kind::datetime;
      return status::ok();
    }
    std::size_t end = s[0] == '-' ? 1 : 0;
    while (end < s.size() && is_digit(s[end])) ++end;
    std::int64_t multiplier = 1;
    if (end < s.size() && s[end] == '.') {
      std::size_t frac = end + 1;
      while (frac < s.size() && is_digit(s[frac])) ++frac;
      if (frac == end + 1 || frac != s.size()) return status::ok();
      out.kind = config_kind::floating;
      out.floating = std::strtod(s.c_str(), nullptr);
      return status::ok();
    }
    if (end < s.size()) {
      multiplier = size_multiplier(ascii_lower(std::string_view(s).substr(end)));
      if (multiplier == 0) return status::ok();
    }
    std::int64_t n = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + end, n);
    if (ec != std::errc() || p != s.data() + end || __builtin_mul_overflow(n, multiplier, &n)) {
      return syntax_error(out.at, "number " + s + " is out of range");
    }
    out.kind = config_kind::integer;
    out.integer = n;
    return status::ok();
  }

  // `$name`: the nearest earlier key `name` in an enclosing map, or else the environment.
  status resolve_variable(const std::string& name, config_value& out) {
    const config_position at = out.at;
    // A bcrypt hash ("$2a$11$...") is a password, not a reference.
    if (name.starts_with("2a$") || name.starts_with("2b$") || name.starts_with("2y$")) return status::ok();
    if (name.empty()) return syntax_error(at, "expected a variable name after '$'");
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      for (config_entry& e : (*scope)->entries) {
        if (e.key != name) continue;
        e.used_as_variable = true;
        out = e.value;
        out.at = at;
        return status::ok();
      }
    }
    const char* env = std::getenv(name.c_str());
    if (env == nullptr) {
      return config_error(at, "variable \"" + name + "\" is not defined (by an earlier key or in the environment)");
    }
    if (depth_ >= max_include_depth) return config_error(at, "variable \"" + name + "\" refers to itself");
    out = config_value();
    parser sub(env, origin_, base_dir_, depth_ + 1);
    return sub.parse_environment_value(name, at, out);
  }

  // `include path`: the entries of that file join `map`, as if written in its place. The
  // included file is read on its own, so its `$name`s cannot see the includer's keys.
  status parse_include(config_value& map, const config_position& at) {
    skip_blanks();
    std::string path;
    const int q = peek();
    if (q == '"' || q == '\'') {
      next();
      while (peek() != q) {
        if (peek() < 0 || is_newline(peek())) return syntax_error(at, "include path is never closed");
        path += next();
      }
      next();
    } else {
      while (peek() >= 0 && !is_space(peek()) && peek() != ';' && peek() != '}') path += next();
    }
    if (path.empty()) return syntax_error(at, "include needs a file name");
    FERRY_RETURN_IF_ERROR(end_of_entry("include"));

    // Relative to the including file; nats-server also prefixes absolute paths with that
    // directory, which can only be a mistake, so an absolute path is used as it is.
    namespace fs = std::filesystem;
    const fs::path p(path);
    const std::string file = (p.is_absolute() ? p : fs::path(base_dir_) / p).lexically_normal().string();
    if (depth_ + 1 >= max_include_depth) {
      return config_error(at, "include \"" + path + "\": includes nest too deeply (does a file include itself?)");
    }
    result<std::string> text = read_file(file);
    if (!text) return config_error(at, "include \"" + path + "\": " + text.status().message());
    parser sub(*text, file, fs::path(file).parent_path().string(), depth_ + 1);
    FERRY_ASSIGN_OR_RETURN(config_value included, sub.parse_document());
    for (config_entry& e : included.entries) set_entry(map, std::move(e));
    return status::ok();
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::string origin_;
  std::string base_dir_;
  int depth_;
  int nesting_ = 0;                    // arrays and maps open around the current point
  std::string context_;                // prefixed to syntax errors ("environment variable X: ")
  std::vector<config_value*> scopes_;  // the maps being read, outermost first
};

}  // namespace

result<config_value> parse_config(std::string_view text, const std::string& origin, const std::string& base_dir) {
  parser p(text, origin, base_dir, 0);
  return p.parse_document();
}

result<config_value> parse_config_file(const std::string& path) {
  FERRY_ASSIGN_OR_RETURN(std::string text, read_file(path));
  return parse_config(text, path, std::filesystem::path(path).parent_path().string());
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace ferry::broker
