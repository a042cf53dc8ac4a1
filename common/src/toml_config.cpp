#include "deckhand/common/toml_config.h"

namespace deckhand {

Result<toml::table> parse_toml(const std::string& text, const std::string& origin) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return fail(ErrorKind::InvalidArgument, "{}: line {}: {}", origin, e.source().begin.line, e.description());
  }
}

Status read_toml_string(const toml::table& t, const char* key, std::string& dst, const std::string& origin) {
  auto node = t[key];
  if (!node) return {};
  auto v = node.value<std::string>();
  if (!v) return fail(ErrorKind::InvalidArgument, "{}: key '{}' must be a string", origin, key);
  dst = *v;
  return {};
}

}  // namespace deckhand
