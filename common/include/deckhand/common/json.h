// JSON through nlohmann::json, with parse errors as values.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "deckhand/common/result.h"

namespace deckhand {

using Json = nlohmann::json;

// Parses text; the error says what was being parsed (what) and where it broke.
Result<Json> parse_json(std::string_view text, std::string_view what);

Result<Json> read_json_file(const std::string& path);

}  // namespace deckhand
