// Kubernetes resource quantities ("250m", "1.5", "128Mi", "1G", "2e3", or a
// JSON number), for everyone who reads requests, limits and allocatable:
// the scheduler, the agent and the controllers.
#pragma once

#include <cstdint>
#include <optional>

#include "deckhand/common/json.h"

namespace deckhand::api {

// The number a quantity stands for (suffixes n u m k M G T P E, Ki Mi Gi Ti
// Pi Ei, decimal exponents e/E); nullopt when it is not a quantity.
std::optional<long double> quantity_number(const Json& quantity);
// 1000 x the value, rounded up: CPU in millicores.
std::optional<int64_t> quantity_milli(const Json& quantity);
// The value rounded up: bytes, or a count.
std::optional<int64_t> quantity_value(const Json& quantity);

}  // namespace deckhand::api
