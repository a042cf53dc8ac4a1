#include "deckhand/api/taints.h"

#include <algorithm>

namespace deckhand::api {

namespace {

std::string text(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

bool Toleration::tolerates(const Taint& taint) const {
  if (!effect.empty() && effect != taint.effect) return false;
  if (op == "Exists") return key.empty() || key == taint.key;
  return op == "Equal" && key == taint.key && value == taint.value;
}

bool tolerated(const std::vector<Toleration>& tolerations, const Taint& taint) {
  return std::any_of(tolerations.begin(), tolerations.end(), [&](const Toleration& t) { return t.tolerates(taint); });
}

std::vector<Taint> parse_taints(const Json& taints) {
  std::vector<Taint> out;
  if (!taints.is_array()) return out;
  for (const Json& t : taints)
    if (t.is_object()) out.push_back({text(t, "key"), text(t, "value"), text(t, "effect"), text(t, "timeAdded")});
  return out;
}

std::vector<Toleration> parse_tolerations(const Json& tolerations) {
  std::vector<Toleration> out;
  if (!tolerations.is_array()) return out;
  for (const Json& t : tolerations) {
    if (!t.is_object()) continue;
    Toleration tol;
    tol.key = text(t, "key");
    if (auto op = text(t, "operator"); !op.empty()) tol.op = op;
    tol.value = text(t, "value");
    tol.effect = text(t, "effect");
    if (auto it = t.find("tolerationSeconds"); it != t.end() && it->is_number_integer()) tol.seconds = it->get<int64_t>();
    out.push_back(std::move(tol));
  }
  return out;
}

Json taint_json(const Taint& taint) {
  Json j = {{"key", taint.key}, {"effect", taint.effect}};
  if (!taint.value.empty()) j["value"] = taint.value;
  if (!taint.time_added.empty()) j["timeAdded"] = taint.time_added;
  return j;
}

Result<Taint> parse_taint_text(const std::string& text) {
  auto bad = [&] {
    return fail(ErrorKind::InvalidArgument,
                "taint \"{}\": want key=value:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute", text);
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return bad();
  Taint t;
  t.effect = text.substr(colon + 1);
  std::string key_value = text.substr(0, colon);
  size_t eq = key_value.find('=');
  t.key = key_value.substr(0, eq);
  if (eq != std::string::npos) t.value = key_value.substr(eq + 1);
  if (t.key.empty() || (t.effect != "NoSchedule" && t.effect != "PreferNoSchedule" && t.effect != "NoExecute"))
    return bad();
  return t;
}

}  // namespace deckhand::api
