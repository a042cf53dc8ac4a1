#include "deckhand/controllers/taints.h"

#include <algorithm>

namespace deckhand::controllers {

std::vector<Taint> node_taints(const Json& node) { return api::parse_taints(field(node, {"spec", "taints"})); }

std::vector<Toleration> pod_tolerations(const Json& pod_spec) {
  return api::parse_tolerations(field(pod_spec, {"tolerations"}));
}

std::optional<Clock::time_point> eviction_time(const std::vector<Toleration>& tolerations,
                                               const std::vector<Taint>& taints) {
  std::optional<Clock::time_point> earliest;
  for (const auto& taint : taints) {
    if (taint.effect != "NoExecute") continue;
    // The shortest tolerationSeconds among the tolerations that match; any
    // matching one without a limit does not lift the others' limits.
    std::optional<int64_t> shortest;
    bool matched = false;
    for (const auto& t : tolerations) {
      if (!t.tolerates(taint)) continue;
      matched = true;
      if (t.seconds) shortest = std::min(shortest.value_or(*t.seconds), *t.seconds);
    }
    if (!matched) return Clock::time_point::min();
    if (!shortest) continue;
    // A taint without timeAdded counts from the epoch: its limit has passed.
    auto at = parse_time(taint.time_added).value_or(Clock::time_point{}) + std::chrono::seconds(std::max<int64_t>(*shortest, 0));
    if (!earliest || at < *earliest) earliest = at;
  }
  return earliest;
}

bool tolerates_all(const std::vector<Toleration>& tolerations, const std::vector<Taint>& taints,
                   const std::vector<std::string>& effects) {
  for (const auto& taint : taints)
    if (std::find(effects.begin(), effects.end(), taint.effect) != effects.end() && !api::tolerated(tolerations, taint))
      return false;
  return true;
}

}  // namespace deckhand::controllers
