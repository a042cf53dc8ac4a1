// Base64 (standard alphabet, '=' padding), as Kubernetes' JSON for bytes,
// kubeconfig *-data fields and registry auth use it.
#pragma once

#include <string>
#include <string_view>

#include "deckhand/common/result.h"

namespace deckhand {

std::string base64_encode(std::string_view data);

// Padding optional; whitespace and line breaks are skipped. Anything else is
// an InvalidArgument error naming the offset.
Result<std::string> base64_decode(std::string_view text);

}  // namespace deckhand
