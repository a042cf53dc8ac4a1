// Small string helpers shared by the parsers of /proc, cgroup files,
// /etc/passwd, flag values and protocol fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand {

// Every part between separators, empty ones included: split("a::b", ':') is {"a", "", "b"}.
// The views point into s.
std::vector<std::string_view> split(std::string_view s, char sep);

// The non-empty parts only: split_nonempty(":a::b:", ':') is {"a", "b"}.
std::vector<std::string> split_nonempty(std::string_view s, char sep);

// ASCII letters in lower case, other bytes as they are (header names,
// schemes, kinds: never locale-dependent).
std::string ascii_lower(std::string_view s);

// Equal but for the case of ASCII letters.
bool ascii_iequals(std::string_view a, std::string_view b);

// A whole decimal integer in [min, max] (flag values, config keys); the error
// says what was wanted and what came.
Result<int64_t> parse_integer(std::string_view text, int64_t min, int64_t max);

}  // namespace deckhand
