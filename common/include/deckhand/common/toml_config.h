// Daemon config files in TOML (toml++), with parse errors and keys of the
// wrong type as values that name the file, the line and the key.
#pragma once

#include <string>

#include <toml++/toml.h>

#include "deckhand/common/result.h"

namespace deckhand {

Result<toml::table> parse_toml(const std::string& text, const std::string& origin);

// Reads a string key into dst when present; a key of another type is an error.
Status read_toml_string(const toml::table& t, const char* key, std::string& dst, const std::string& origin);

}  // namespace deckhand
