#include "deckhand/common/text.h"

#include <cerrno>
#include <cstdlib>

namespace deckhand {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto pos = s.find(sep);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) return out;
    s.remove_prefix(pos + 1);
  }
}

std::vector<std::string> split_nonempty(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (auto part : split(s, sep))
    if (!part.empty()) out.emplace_back(part);
  return out;
}

namespace {

char ascii_lower_char(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower_char(c);
  return out;
}

Result<int64_t> parse_integer(std::string_view text, int64_t min, int64_t max) {
  std::string copy(text);  // strtoll wants a terminator
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(copy.c_str(), &end, 10);
  if (copy.empty() || *end != '\0' || errno == ERANGE || n < min || n > max)
    return fail(ErrorKind::InvalidArgument, "want an integer from {} to {}, got '{}'", min, max, text);
  return n;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower_char(a[i]) != ascii_lower_char(b[i])) return false;
  return true;
}

}  // namespace deckhand
