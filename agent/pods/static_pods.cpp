#include "static_pods.h"

#include <algorithm>
#include <set>

#include "deckhand/client/yaml_subset.h"
#include "deckhand/common/digest.h"
#include "deckhand/common/fs.h"
#include "pod_config.h"
#include "pod_status.h"

namespace deckhand::agent {

namespace {

Result<Json> parse_manifest(std::string_view text, const std::string& file) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') return parse_json(text, file);
  return client::parse_yaml_subset(text, file);
}

Status check_manifest(const Json& pod, const std::string& file) {
  if (!pod.is_object()) return fail(ErrorKind::InvalidArgument, "{}: a manifest must be an object", file);
  std::string kind = json_string(pod, "kind");
  if (kind != "Pod") return fail(ErrorKind::InvalidArgument, "{}: kind is \"{}\", not Pod", file, kind);
  std::string version = json_string(pod, "apiVersion");
  if (version != "v1") return fail(ErrorKind::InvalidArgument, "{}: apiVersion is \"{}\", not v1", file, version);
  if (json_string(json_at(pod, "metadata"), "name").empty())
    return fail(ErrorKind::InvalidArgument, "{}: metadata.name is missing", file);
  const Json& containers = json_at(json_at(pod, "spec"), "containers");
  if (!containers.is_array() || containers.empty())
    return fail(ErrorKind::InvalidArgument, "{}: spec.containers is missing or empty", file);
  for (const Json& c : containers)
    if (json_string(c, "name").empty() || json_string(c, "image").empty())
      return fail(ErrorKind::InvalidArgument, "{}: every container needs a name and an image", file);
  return {};
}

// 32 hex characters, as kubelet's uids for static pods are.
std::string manifest_uid(const Json& manifest, const std::string& file, const std::string& node_name) {
  std::string digest = sha256_digest(manifest.dump() + '\n' + node_name + '\n' + file);
  return digest.substr(std::string_view("sha256:").size(), 32);
}

std::string annotation(const Json& pod, const char* key) {
  return json_string(json_at(json_at(pod, "metadata"), "annotations"), key);
}

}  // namespace

Result<Json> static_pod_from_manifest(std::string_view text, const std::string& file, const std::string& node_name) {
  DH_TRY(pod, parse_manifest(text, file));
  DH_CHECK(check_manifest(pod, file));
  std::string uid = manifest_uid(pod, file, node_name);
  Json& meta = pod["metadata"];
  meta["name"] = meta["name"].get<std::string>() + "-" + node_name;
  if (json_string(meta, "namespace").empty()) meta["namespace"] = "default";
  meta["uid"] = uid;
  meta.erase("resourceVersion");
  if (!meta["annotations"].is_object()) meta["annotations"] = Json::object();
  meta["annotations"][kConfigSourceAnnotation] = "file";
  meta["annotations"][kConfigHashAnnotation] = uid;
  meta["annotations"][kConfigSeenAnnotation] = rfc3339_now();
  Json& spec = pod["spec"];
  spec["nodeName"] = node_name;
  // The node lifecycle controller must not evict what only this node can run.
  if (!spec["tolerations"].is_array()) spec["tolerations"] = Json::array();
  spec["tolerations"].push_back({{"operator", "Exists"}, {"effect", "NoExecute"}});
  pod.erase("status");
  return pod;
}

Result<ManifestScan> scan_manifests(const std::string& dir, const std::string& node_name) {
  ManifestScan scan;
  if (!fs::exists(dir)) return scan;
  DH_TRY(names, with_context(fs::list_dir(dir), "read pod manifest directory {}", dir));
  std::sort(names.begin(), names.end());
  std::set<std::string> keys;
  for (const auto& name : names) {
    if (name.empty() || name[0] == '.') continue;
    std::string path = fs::join(dir, name);
    auto text = fs::read_file(path);
    if (!text) {
      // A subdirectory, or a file removed since the listing.
      if (text.error().sys_errno != EISDIR && text.error().kind != ErrorKind::NotFound)
        scan.errors.push_back(text.error().message);
      continue;
    }
    auto pod = static_pod_from_manifest(*text, path, node_name);
    if (!pod) {
      scan.errors.push_back(pod.error().message);
      continue;
    }
    const Json& meta = (*pod)["metadata"];
    std::string key = json_string(meta, "namespace") + "/" + json_string(meta, "name");
    if (!keys.insert(key).second) {
      scan.errors.push_back(fmt::format("{}: pod {} is already defined by another manifest", path, key));
      continue;
    }
    scan.pods.push_back(std::move(*pod));
  }
  return scan;
}

bool is_static_pod(const Json& pod) { return annotation(pod, kConfigSourceAnnotation) == "file"; }
bool is_mirror_pod(const Json& pod) { return json_at(json_at(json_at(pod, "metadata"), "annotations"), kConfigMirrorAnnotation).is_string(); }
std::string config_hash(const Json& pod) { return annotation(pod, kConfigHashAnnotation); }
std::string mirror_hash(const Json& mirror) { return annotation(mirror, kConfigMirrorAnnotation); }

Json make_mirror_pod(const Json& static_pod, const std::string& node_name, const std::string& node_uid) {
  Json mirror = static_pod;
  Json& meta = mirror["metadata"];
  meta.erase("uid");
  meta.erase("resourceVersion");
  meta.erase("creationTimestamp");
  meta["annotations"][kConfigMirrorAnnotation] = config_hash(static_pod);
  meta["ownerReferences"] = Json::array(
      {{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node_name}, {"uid", node_uid}, {"controller", true}}});
  mirror.erase("status");
  return mirror;
}

}  // namespace deckhand::agent
