// Values printed the way Go's fmt prints them, since kubectl users read
// Kubernetes' messages built with %q and %v.
#pragma once

#include <string>

#include "deckhand/common/json.h"

namespace deckhand::api {

// strconv.Quote for the printable ASCII and UTF-8 text we meet in names.
std::string go_quote(const std::string& s);

// %v of a JSON value in a field error: strings quoted, the rest as JSON.
std::string go_value(const Json& value);

}  // namespace deckhand::api
