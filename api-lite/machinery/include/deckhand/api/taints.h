// Node taints and pod tolerations (core/v1 Taint and Toleration), one
// reading of them for the scheduler, the controllers and the agent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::api {

struct Taint {
  std::string key, value;
  std::string effect;      // NoSchedule, PreferNoSchedule, NoExecute
  std::string time_added;  // RFC 3339, as written on NoExecute taints; may be empty
  bool operator==(const Taint&) const = default;
};

struct Toleration {
  std::string key;                 // empty with Exists: every key
  std::string op = "Equal";        // Equal, Exists
  std::string value;
  std::string effect;              // empty: every effect
  std::optional<int64_t> seconds;  // tolerationSeconds (NoExecute); none: for ever
  bool tolerates(const Taint& taint) const;
};

bool tolerated(const std::vector<Toleration>& tolerations, const Taint& taint);

// A node's spec.taints and a pod's spec.tolerations; entries that are not
// objects are passed over, and anything but an array is none.
std::vector<Taint> parse_taints(const Json& taints);
std::vector<Toleration> parse_tolerations(const Json& tolerations);

Json taint_json(const Taint& taint);

// "key=value:Effect" or "key:Effect" (kubelet's --register-with-taints).
Result<Taint> parse_taint_text(const std::string& text);

}  // namespace deckhand::api
