#include "deckhand/client/yaml_subset.h"

#include <charconv>
#include <optional>
#include <vector>

namespace deckhand::client {

namespace {

constexpr int kMaxDepth = 64;  // kubeconfigs nest 4 deep; this only stops runaway recursion

struct Line {
  int number = 0;        // 1-based, for errors
  std::string_view raw;  // the whole line without its line break
  int indent = 0;        // where this line's node starts (moved right past "- " for sequence items)
  bool blank = false;    // empty or only a comment
  std::string_view content() const { return raw.substr(static_cast<size_t>(indent)); }
};

struct KeyLine {
  std::string key;
  std::string_view rest;  // after the ':'
};

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view skip_spaces(std::string_view s) {
  size_t k = 0;
  while (k < s.size() && is_space(s[k])) ++k;
  return s.substr(k);
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_empty_line(std::string_view s) { return skip_spaces(s).empty(); }

// Blank for the structure: nothing, or only a comment.
bool is_blank(std::string_view s) {
  s = skip_spaces(s);
  return s.empty() || s[0] == '#';
}

bool is_seq_item(std::string_view s) { return s == "-" || (s.size() >= 2 && s[0] == '-' && is_space(s[1])); }

// The text of a plain scalar before its comment (a '#' after white space).
std::string_view cut_comment(std::string_view s) {
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '#' && (k == 0 || is_space(s[k - 1]))) return trim_right(s.substr(0, k));
  }
  return trim_right(s);
}

// A ':' that makes a mapping: followed by white space or the end.
size_t find_mapping_colon(std::string_view s) {
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '#' && k > 0 && is_space(s[k - 1])) return std::string_view::npos;
    if (s[k] == ':' && (k + 1 == s.size() || is_space(s[k + 1]))) return k;
  }
  return std::string_view::npos;
}

bool is_unsupported_indicator(char c) {
  return c == '&' || c == '*' || c == '!' || c == '%' || c == '@' || c == '`';
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

bool is_float_text(std::string_view s) {
  size_t k = 0;
  if (k < s.size() && (s[k] == '-' || s[k] == '+')) ++k;
  size_t digits = 0;
  bool point_or_exp = false;
  while (k < s.size() && s[k] >= '0' && s[k] <= '9') ++k, ++digits;
  if (k < s.size() && s[k] == '.') {
    point_or_exp = true;
    for (++k; k < s.size() && s[k] >= '0' && s[k] <= '9'; ++k) ++digits;
  }
  if (digits == 0) return false;
  if (k < s.size() && (s[k] == 'e' || s[k] == 'E')) {
    point_or_exp = true;
    ++k;
    if (k < s.size() && (s[k] == '-' || s[k] == '+')) ++k;
    size_t exp_digits = 0;
    while (k < s.size() && s[k] >= '0' && s[k] <= '9') ++k, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return point_or_exp && k == s.size();
}

// A plain scalar typed as the YAML 1.2 core schema types it.
Json typed_plain(std::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  std::string_view digits = s[0] == '+' ? s.substr(1) : s;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty()) return n;
  if (is_float_text(s)) {
    double d = 0;
    std::string_view f = s[0] == '+' ? s.substr(1) : s;
    auto [fend, fec] = std::from_chars(f.data(), f.data() + f.size(), d);
    if (fec == std::errc() && fend == f.data() + f.size()) return d;
  }
  return std::string(s);
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& what) : text_(text), what_(what) {}

  Result<Json> document() {
    DH_CHECK(split_lines());
    DH_TRY(doc, block_node(-1, 0));
    skip_blank();
    if (i_ < lines_.size()) return error(lines_[i_].number, "unexpected content after the document");
    return doc;
  }

 private:
  template <typename... Args>
  tl::unexpected<Error> error(int line, fmt::format_string<Args...> f, Args&&... args) {
    return fail(ErrorKind::InvalidArgument, "{}:{}: {}", what_, line,
                fmt::format(f, std::forward<Args>(args)...));
  }

  Status split_lines() {
    bool content_seen = false;
    bool ended = false;  // after "..."
    int number = 0;
    for (std::string_view rest = text_; !rest.empty() || number == 0;) {
      size_t nl = rest.find('\n');
      std::string_view raw = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      ++number;
      if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      Line line{number, raw, 0, is_blank(raw)};
      bool doc_start = raw == "---" || raw.rfind("--- ", 0) == 0 || raw.rfind("---\t", 0) == 0;
      if (doc_start || raw == "..." || raw.rfind("... ", 0) == 0) {
        if (doc_start && (content_seen || ended))
          return error(number, "several documents in one file are not supported");
        if (doc_start && !is_blank(raw.substr(3)))
          return error(number, "content on the \"---\" line is not supported");
        ended = ended || !doc_start;
        line.blank = true;
      } else if (!line.blank) {
        if (ended) return error(number, "content after the end of the document (\"...\")");
        if (raw[0] == '%') return error(number, "YAML directives are not supported");
        size_t indent = raw.find_first_not_of(' ');
        if (raw[indent] == '\t') return error(number, "tabs are not allowed in indentation");
        line.indent = static_cast<int>(indent);
        content_seen = true;
      }
      lines_.push_back(line);
      if (nl == std::string_view::npos) break;
    }
    return {};
  }

  void skip_blank() {
    while (i_ < lines_.size() && lines_[i_].blank) ++i_;
  }

  // A node on the lines from i_ on, indented more than parent_indent (null if none).
  Result<Json> block_node(int parent_indent, int depth) {
    if (depth > kMaxDepth) return error(lines_[std::min(i_, lines_.size() - 1)].number, "nested too deeply");
    skip_blank();
    if (i_ >= lines_.size() || lines_[i_].indent <= parent_indent) return nullptr;
    Line& line = lines_[i_];
    if (is_seq_item(line.content())) return sequence(line.indent, depth + 1);
    DH_TRY(key, key_line(line));
    if (key) return mapping(line.indent, depth + 1);
    return inline_node(line.content(), parent_indent, depth + 1);
  }

  // "key: rest" on this line, or nullopt when the line does not start with a key.
  Result<std::optional<KeyLine>> key_line(const Line& line) {
    std::string_view s = line.content();
    if (s.empty() || s[0] == '[' || s[0] == '{' || s[0] == '|' || s[0] == '>') return std::nullopt;
    if (s[0] == '?' && (s.size() == 1 || is_space(s[1])))
      return error(line.number, "complex keys (\"? \") are not supported");
    if (s[0] == '"' || s[0] == '\'') {
      // A quoted scalar that does not close on its line is a value, never a key.
      std::string_view after = s;
      auto key = quoted(after, line.number, /*may_span_lines=*/false);
      if (!key) return std::nullopt;
      after = skip_spaces(after);
      if (after.empty() || after[0] != ':' || (after.size() > 1 && !is_space(after[1]))) return std::nullopt;
      return KeyLine{std::move(*key), after.substr(1)};
    }
    size_t colon = find_mapping_colon(s);
    if (colon == std::string_view::npos) return std::nullopt;
    if (is_unsupported_indicator(s[0])) {
      return error(line.number, "anchors, aliases, tags and reserved indicators ('{}') are not supported",
                   s[0]);
    }
    return KeyLine{std::string(trim_right(s.substr(0, colon))), s.substr(colon + 1)};
  }

  Result<Json> mapping(int indent, int depth) {
    Json object = Json::object();
    for (;;) {
      skip_blank();
      if (i_ >= lines_.size() || lines_[i_].indent < indent) break;
      Line& line = lines_[i_];
      if (line.indent > indent) return error(line.number, "unexpected indentation");
      DH_TRY(key, key_line(line));
      if (!key) return error(line.number, "expected \"key: value\"");
      if (object.contains(key->key)) return error(line.number, "duplicate key \"{}\"", key->key);
      std::string_view rest = skip_spaces(key->rest);
      if (rest.empty() || rest[0] == '#') {
        ++i_;
        DH_TRY(value, value_below(indent, depth));
        object[key->key] = std::move(value);
      } else {
        DH_TRY(value, inline_node(rest, indent, depth));
        object[key->key] = std::move(value);
      }
    }
    return object;
  }

  // The value of "key:" with nothing after it: a node on the next lines. A
  // sequence may sit at the key's own indentation.
  Result<Json> value_below(int key_indent, int depth) {
    skip_blank();
    if (i_ < lines_.size() && lines_[i_].indent == key_indent && is_seq_item(lines_[i_].content())) {
      return sequence(key_indent, depth + 1);
    }
    return block_node(key_indent, depth);
  }

  Result<Json> sequence(int indent, int depth) {
    if (depth > kMaxDepth) return error(lines_[i_].number, "nested too deeply");
    Json array = Json::array();
    for (;;) {
      skip_blank();
      if (i_ >= lines_.size() || lines_[i_].indent < indent) break;
      Line& line = lines_[i_];
      if (line.indent > indent) return error(line.number, "unexpected indentation");
      std::string_view s = line.content();
      if (!is_seq_item(s)) break;  // the mapping that holds this sequence goes on
      size_t k = 1;
      while (k < s.size() && is_space(s[k])) ++k;
      std::string_view rest = s.substr(k);
      if (rest.empty() || rest[0] == '#') {
        ++i_;
        DH_TRY(value, block_node(indent, depth));
        array.push_back(std::move(value));
        continue;
      }
      // The item's node starts on this line, right of the dash: read the
      // line from there as if it were indented that far.
      line.indent += static_cast<int>(k);
      if (is_seq_item(rest)) {
        DH_TRY(value, sequence(line.indent, depth + 1));
        array.push_back(std::move(value));
        continue;
      }
      DH_TRY(key, key_line(line));
      if (key) {
        DH_TRY(value, mapping(line.indent, depth + 1));
        array.push_back(std::move(value));
      } else {
        DH_TRY(value, inline_node(rest, indent, depth));
        array.push_back(std::move(value));
      }
    }
    return array;
  }

  // A scalar or flow collection starting at s (part of line i_); leaves i_
  // on the first line after it.
  Result<Json> inline_node(std::string_view s, int parent_indent, int depth) {
    int number = lines_[i_].number;
    char c = s[0];
    if (c == '"' || c == '\'') {
      DH_TRY(value, quoted(s, number, /*may_span_lines=*/true));
      DH_CHECK(expect_line_end(s, lines_[i_].number));
      ++i_;
      return Json(std::move(value));
    }
    if (c == '{' || c == '[') {
      DH_TRY(value, flow(s, number, depth));
      DH_CHECK(expect_line_end(s, number));
      ++i_;
      return value;
    }
    if (c == '|' || c == '>') return block_scalar(s, parent_indent);
    if (is_unsupported_indicator(c)) {
      return error(number, "anchors, aliases, tags and reserved indicators ('{}') are not supported", c);
    }
    if (is_seq_item(s)) return error(number, "a sequence cannot start on the line of its key");
    if (c == '?' && (s.size() == 1 || is_space(s[1])))
      return error(number, "complex keys (\"? \") are not supported");
    return plain(s, parent_indent);
  }

  Status expect_line_end(std::string_view rest, int number) {
    if (!is_blank(rest))
      return error(number, "unexpected text after the value: \"{}\"", trim_right(skip_spaces(rest)));
    return {};
  }

  // A plain scalar, folded over the more indented lines that follow it.
  Result<Json> plain(std::string_view s, int parent_indent) {
    std::string_view first = cut_comment(s);
    if (find_mapping_colon(first) != std::string_view::npos) {
      return error(lines_[i_].number, "a mapping value is not allowed here (quote the scalar?)");
    }
    std::string text(first);
    bool folded = false;
    size_t empty_lines = 0;
    size_t next = i_ + 1;
    const bool has_comment = first.size() != trim_right(s).size();
    for (size_t k = i_ + 1; k < lines_.size() && !has_comment; ++k) {
      const Line& line = lines_[k];
      if (is_empty_line(line.raw)) {
        ++empty_lines;
        continue;
      }
      if (line.blank || line.indent <= parent_indent) break;
      std::string_view piece = cut_comment(line.content());
      if (find_mapping_colon(piece) != std::string_view::npos) {
        return error(line.number, "a mapping value is not allowed here (quote the scalar?)");
      }
      text += empty_lines == 0 ? std::string(" ") : std::string(empty_lines, '\n');
      text += piece;
      empty_lines = 0;
      folded = true;
      next = k + 1;
      if (piece.size() != trim_right(line.content()).size()) break;  // a comment ends the scalar
    }
    i_ = next;
    return folded ? Json(std::move(text)) : typed_plain(text);
  }

  // A quoted scalar starting at s (its quote); s is left just after the
  // closing quote, and i_ on the line that holds it.
  Result<std::string> quoted(std::string_view& s, int number, bool may_span_lines) {
    const char quote = s[0];
    std::string out;
    std::string_view rest = s.substr(1);
    size_t breaks = 0;           // line breaks since the last text, when folding
    bool escaped_break = false;  // a '\' ended the previous line: no space
    for (bool first = true;; first = false) {
      if (!first) {
        rest = skip_spaces(rest);
        if (rest.empty()) {
          if (escaped_break)
            out += '\n';
          else
            ++breaks;
        } else {
          if (!escaped_break) out += breaks == 1 ? std::string(" ") : std::string(breaks - 1, '\n');
          breaks = 0;
          escaped_break = false;
        }
      }
      size_t line_start = out.size();
      for (size_t k = 0; k < rest.size(); ++k) {
        char c = rest[k];
        if (c == quote) {
          if (quote == '\'' && k + 1 < rest.size() && rest[k + 1] == '\'') {
            out += '\'';
            ++k;
            continue;
          }
          s = rest.substr(k + 1);
          return out;
        }
        if (quote == '"' && c == '\\') {
          if (k + 1 == rest.size()) {
            escaped_break = true;
            break;
          }
          DH_TRY(used, escape(rest.substr(k + 1), out, number));
          k += used;
          continue;
        }
        out += c;
      }
      if (!may_span_lines) return error(number, "quoted scalar not closed on its line");
      if (!escaped_break && !rest.empty()) {
        // White space before a folded line break is not part of the value.
        while (out.size() > line_start && is_space(out.back())) out.pop_back();
      }
      if (!escaped_break && breaks == 0) breaks = 1;
      if (++i_ >= lines_.size()) return error(number, "quoted scalar is never closed");
      rest = lines_[i_].raw;
    }
  }

  // One escape after a '\' in a double-quoted scalar; returns the characters used.
  Result<size_t> escape(std::string_view s, std::string& out, int number) {
    switch (s[0]) {
      case '0':
        out += '\0';
        return 1;
      case 'a':
        out += '\a';
        return 1;
      case 'b':
        out += '\b';
        return 1;
      case 't':
      case '\t':
        out += '\t';
        return 1;
      case 'n':
        out += '\n';
        return 1;
      case 'v':
        out += '\v';
        return 1;
      case 'f':
        out += '\f';
        return 1;
      case 'r':
        out += '\r';
        return 1;
      case 'e':
        out += '\x1b';
        return 1;
      case ' ':
      case '"':
      case '/':
      case '\\':
        out += s[0];
        return 1;
      case 'x':
      case 'u':
      case 'U': {
        size_t width = s[0] == 'x' ? 2 : s[0] == 'u' ? 4 : 8;
        uint32_t cp = 0;
        if (s.size() < width + 1) return error(number, "short \\{} escape", s[0]);
        auto [end, ec] = std::from_chars(s.data() + 1, s.data() + 1 + width, cp, 16);
        if (ec != std::errc() || end != s.data() + 1 + width || cp > 0x10ffff) {
          return error(number, "bad \\{} escape", s[0]);
        }
        append_utf8(out, cp);
        return width + 1;
      }
      default:
        return error(number, "unknown escape \"\\{}\"", s[0]);
    }
  }

  // A flow collection that opens and closes on this line; s is left after it.
  Result<Json> flow(std::string_view& s, int number, int depth) {
    if (depth > kMaxDepth) return error(number, "nested too deeply");
    const char open = s[0];
    const char close = open == '{' ? '}' : ']';
    Json out = open == '{' ? Json::object() : Json::array();
    s = skip_spaces(s.substr(1));
    if (!s.empty() && s[0] == close) {
      s.remove_prefix(1);
      return out;
    }
    for (;;) {
      if (open == '{') {
        DH_TRY(key, flow_scalar(s, number, /*is_key=*/true));
        s = skip_spaces(s);
        Json value;
        if (!s.empty() && s[0] == ':') {
          s = skip_spaces(s.substr(1));
          DH_TRY(v, flow_node(s, number, depth));
          value = std::move(v);
        }
        std::string name = key.is_string() ? key.get<std::string>() : key.dump();
        if (out.contains(name)) return error(number, "duplicate key \"{}\"", name);
        out[name] = std::move(value);
      } else {
        DH_TRY(v, flow_node(s, number, depth));
        out.push_back(std::move(v));
      }
      s = skip_spaces(s);
      if (s.empty())
        return error(number,
                     "flow collection not closed on its line (multi-line flow style is not supported)");
      if (s[0] == close) {
        s.remove_prefix(1);
        return out;
      }
      if (s[0] != ',') return error(number, "expected ',' or '{}' in flow collection", close);
      s = skip_spaces(s.substr(1));
      if (!s.empty() && s[0] == close) {  // a trailing comma
        s.remove_prefix(1);
        return out;
      }
    }
  }

  Result<Json> flow_node(std::string_view& s, int number, int depth) {
    if (!s.empty() && (s[0] == '{' || s[0] == '[')) return flow(s, number, depth + 1);
    return flow_scalar(s, number, /*is_key=*/false);
  }

  Result<Json> flow_scalar(std::string_view& s, int number, bool is_key) {
    if (s.empty())
      return error(number, "flow collection not closed on its line (multi-line flow style is not supported)");
    if (s[0] == '"' || s[0] == '\'') {
      DH_TRY(text, quoted(s, number, /*may_span_lines=*/false));
      return Json(std::move(text));
    }
    if (is_unsupported_indicator(s[0]) || s[0] == '|' || s[0] == '>' || s[0] == '#') {
      return error(number, "'{}' is not supported in a flow collection", s[0]);
    }
    size_t k = 0;
    for (; k < s.size(); ++k) {
      char c = s[k];
      if (c == ',' || c == '[' || c == ']' || c == '{' || c == '}') break;
      if (c == ':' && (k + 1 == s.size() || is_space(s[k + 1]) || s[k + 1] == ',' || s[k + 1] == '}' ||
                       s[k + 1] == ']')) {
        break;
      }
      if (c == '#' && k > 0 && is_space(s[k - 1]))
        return error(number, "comments inside a flow collection are not supported");
    }
    std::string_view text = trim_right(s.substr(0, k));
    s.remove_prefix(k);
    return is_key ? Json(std::string(text)) : typed_plain(text);
  }

  // A literal (|) or folded (>) block scalar: header at s, text on the more indented lines below.
  Result<Json> block_scalar(std::string_view s, int parent_indent) {
    int number = lines_[i_].number;
    const bool literal = s[0] == '|';
    char chomp = 'c';  // clip, '-' strip, '+' keep
    size_t k = 1;
    for (; k < s.size() && !is_space(s[k]); ++k) {
      if ((s[k] == '-' || s[k] == '+') && chomp == 'c')
        chomp = s[k];
      else if (s[k] >= '1' && s[k] <= '9')
        return error(number, "block scalar indentation indicators are not supported");
      else
        return error(number, "bad block scalar header \"{}\"", s);
    }
    DH_CHECK(expect_line_end(s.substr(k), number));
    ++i_;
    std::vector<std::string_view> body;
    size_t content_indent = 0;
    for (; i_ < lines_.size(); ++i_) {
      std::string_view raw = lines_[i_].raw;
      if (is_empty_line(raw)) {
        body.emplace_back();
        continue;
      }
      size_t indent = raw.find_first_not_of(' ');
      if (content_indent == 0) {
        if (static_cast<int>(indent) <= parent_indent) break;
        content_indent = indent;
      }
      if (indent < content_indent) break;
      body.push_back(raw.substr(content_indent));
    }
    size_t trailing = 0;
    while (!body.empty() && body.back().empty()) body.pop_back(), ++trailing;
    std::string text = literal ? join_literal(body) : join_folded(body);
    if (chomp == '+')
      text += std::string(trailing + (body.empty() ? 0 : 1), '\n');
    else if (chomp == 'c' && !body.empty())
      text += '\n';
    return Json(std::move(text));
  }

  static std::string join_literal(const std::vector<std::string_view>& body) {
    std::string text;
    for (size_t k = 0; k < body.size(); ++k) {
      if (k > 0) text += '\n';
      text += body[k];
    }
    return text;
  }

  // Line breaks between two ordinary lines become spaces; empty lines stay as
  // line breaks, and so do breaks next to more indented lines.
  static std::string join_folded(const std::vector<std::string_view>& body) {
    std::string text;
    size_t empties = 0;
    std::string_view previous;
    bool started = false;
    for (std::string_view line : body) {
      if (line.empty()) {
        ++empties;
        continue;
      }
      if (!started) {
        text += std::string(empties, '\n');
      } else {
        bool keep_break = is_space(line[0]) || is_space(previous[0]);
        if (empties == 0)
          text += keep_break ? "\n" : " ";
        else
          text += std::string(empties + (keep_break ? 1 : 0), '\n');
      }
      text += line;
      previous = line;
      started = true;
      empties = 0;
    }
    return text;
  }

  std::string_view text_;
  const std::string& what_;
  std::vector<Line> lines_;
  size_t i_ = 0;
};

}  // namespace

Result<Json> parse_yaml_subset(std::string_view text, const std::string& what) {
  Parser parser(text, what);
  return parser.document();
}

}  // namespace deckhand::client
