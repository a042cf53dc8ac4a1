#include "deckhand/controllers/taints.h"

#include <algorithm>

namespace deckhand::controllers {

std::vector<Taint> node_taints(const Json& node) {
  std::vector<Taint> out;
  const Json& taints = field(node, {"spec", "taints"});
  if (!taints.is_array()) return out;
  for (const auto& t : taints) {
    if (!t.is_object()) continue;
    Taint taint{string_field(t, {"key"}), string_field(t, {"value"}), string_field(t, {"effect"}), std::nullopt};
    taint.time_added = parse_time(string_field(t, {"timeAdded"}));
    out.push_back(std::move(taint));
  }
  return out;
}

std::vector<Toleration> parse_tolerations(const Json& pod_spec) {
  std::vector<Toleration> out;
  const Json& list = field(pod_spec, {"tolerations"});
  if (!list.is_array()) return out;
  for (const auto& t : list) {
    if (!t.is_object()) continue;
    Toleration tol;
    tol.key = string_field(t, {"key"});
    if (auto op = string_field(t, {"operator"}); !op.empty()) tol.op = op;
    tol.value = string_field(t, {"value"});
    tol.effect = string_field(t, {"effect"});
    if (t.contains("tolerationSeconds") && t["tolerationSeconds"].is_number_integer())
      tol.seconds = t["tolerationSeconds"].get<int64_t>();
    out.push_back(std::move(tol));
  }
  return out;
}

bool tolerates(const Toleration& t, const Taint& taint) {
  if (!t.effect.empty() && t.effect != taint.effect) return false;
  if (t.key.empty()) return t.op == "Exists";  // an empty key with Exists tolerates everything
  if (t.key != taint.key) return false;
  return t.op == "Exists" || (t.op == "Equal" && t.value == taint.value);
}

bool tolerated(const std::vector<Toleration>& tolerations, const Taint& taint) {
  return std::any_of(tolerations.begin(), tolerations.end(), [&](const Toleration& t) { return tolerates(t, taint); });
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
      if (!tolerates(t, taint)) continue;
      matched = true;
      if (t.seconds) shortest = std::min(shortest.value_or(*t.seconds), *t.seconds);
    }
    if (!matched) return Clock::time_point::min();
    if (!shortest) continue;
    // A taint without timeAdded counts from the epoch: its limit has passed.
    auto at = taint.time_added.value_or(Clock::time_point{}) + std::chrono::seconds(std::max<int64_t>(*shortest, 0));
    if (!earliest || at < *earliest) earliest = at;
  }
  return earliest;
}

bool tolerates_all(const std::vector<Toleration>& tolerations, const std::vector<Taint>& taints,
                   const std::vector<std::string>& effects) {
  for (const auto& taint : taints)
    if (std::find(effects.begin(), effects.end(), taint.effect) != effects.end() && !tolerated(tolerations, taint))
      return false;
  return true;
}

}  // namespace deckhand::controllers
