#include "deckhand/common/toml_config.h"

#include "deckhand/common/fs.h"

namespace deckhand {

Result<toml::table> parse_toml(const std::string& text, const std::string& origin) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return fail(ErrorKind::InvalidArgument, "{}: line {}: {}", origin, e.source().begin.line, e.description());
  }
}

Result<std::optional<std::string>> read_config_file(const std::vector<std::string>& args, std::string& path) {
  bool given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      path = args[++i];
      given = true;
    } else if (args[i].rfind("--config=", 0) == 0) {
      path = args[i].substr(9);
      given = true;
    }
  }
  auto text = fs::read_file(path);
  if (text) return std::optional<std::string>(std::move(*text));
  if (!given && text.error().kind == ErrorKind::NotFound) return std::optional<std::string>();
  return tl::unexpected(text.error());
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
