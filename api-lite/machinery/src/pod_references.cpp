#include "deckhand/api/pod_references.h"

namespace deckhand::api {

std::vector<std::string> pod_referenced_names(const Json& spec, const std::string& resource) {
  std::vector<std::string> out;
  if (!spec.is_object()) return out;
  auto add = [&](const Json& o, const char* key) {
    if (o.is_object() && o.contains(key) && o[key].is_string()) out.push_back(o[key].get<std::string>());
  };
  bool configmaps = resource == "configmaps";
  const char* vol_key = configmaps ? "configMap" : "secret";
  const char* vol_name = configmaps ? "name" : "secretName";
  const char* ref_key = configmaps ? "configMapRef" : "secretRef";
  const char* key_ref = configmaps ? "configMapKeyRef" : "secretKeyRef";
  if (spec.contains("volumes") && spec["volumes"].is_array())
    for (const auto& v : spec["volumes"]) {
      if (!v.is_object()) continue;
      if (v.contains(vol_key)) add(v[vol_key], vol_name);
      if (!v.contains("projected") || !v["projected"].is_object() || !v["projected"].contains("sources") ||
          !v["projected"]["sources"].is_array())
        continue;
      for (const auto& source : v["projected"]["sources"])
        if (source.is_object() && source.contains(vol_key)) add(source[vol_key], "name");  // "name" for both
    }
  for (const char* list : {"containers", "initContainers"}) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (const auto& c : spec[list]) {
      if (!c.is_object()) continue;
      if (c.contains("envFrom") && c["envFrom"].is_array())
        for (const auto& f : c["envFrom"])
          if (f.is_object() && f.contains(ref_key)) add(f[ref_key], "name");
      if (c.contains("env") && c["env"].is_array())
        for (const auto& e : c["env"])
          if (e.is_object() && e.contains("valueFrom") && e["valueFrom"].is_object() &&
              e["valueFrom"].contains(key_ref))
            add(e["valueFrom"][key_ref], "name");
    }
  }
  if (!configmaps && spec.contains("imagePullSecrets") && spec["imagePullSecrets"].is_array())
    for (const auto& s : spec["imagePullSecrets"]) add(s, "name");
  return out;
}

}  // namespace deckhand::api
