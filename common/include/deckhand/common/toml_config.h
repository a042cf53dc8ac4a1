// Daemon config files in TOML (toml++), with parse errors and keys of the
// wrong type as values that name the file, the line and the key.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "deckhand/common/result.h"

namespace deckhand {

Result<toml::table> parse_toml(const std::string& text, const std::string& origin);

// The text of a daemon's config file: the file named by "--config FILE" in
// args (which must then exist), else the file at `path` (the default) if it
// exists. `path` is set to the file read; nullopt when the default is absent.
Result<std::optional<std::string>> read_config_file(const std::vector<std::string>& args, std::string& path);

// Reads a string key into dst when present; a key of another type is an error.
Status read_toml_string(const toml::table& t, const char* key, std::string& dst, const std::string& origin);

}  // namespace deckhand
