// Static pods: pods from manifest files in a directory of the node
// (--pod-manifest-path) that the agent runs on its own, with or without an
// apiserver, and mirrors to the apiserver when it can: the mirror pod is a
// copy that carries the static pod's status and cannot change it (deleting
// it only makes the agent create it again).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::agent {

inline constexpr const char* kConfigSourceAnnotation = "kubernetes.io/config.source";
inline constexpr const char* kConfigHashAnnotation = "kubernetes.io/config.hash";
inline constexpr const char* kConfigSeenAnnotation = "kubernetes.io/config.seen";
inline constexpr const char* kConfigMirrorAnnotation = "kubernetes.io/config.mirror";

// The pod a manifest (YAML or JSON, kind Pod) stands for on this node, as
// kubelet makes it: named "<name>-<node>", namespace "default" when it has
// none, bound to the node, tolerating every NoExecute taint, and with a uid
// hashed from the manifest, the node and the file, so that the same manifest
// is the same pod across agent restarts and an edited one is a new pod.
// The uid is also its kubernetes.io/config.hash annotation.
Result<Json> static_pod_from_manifest(std::string_view text, const std::string& file, const std::string& node_name);

struct ManifestScan {
  std::vector<Json> pods;        // in file name order
  std::vector<std::string> errors;  // one line per manifest left out, naming its file
};

// Every file of the directory but hidden ones (kubelet's rule), each a pod;
// a bad manifest or a second pod of the same name is left out with an error.
// A directory that does not exist has no pods.
Result<ManifestScan> scan_manifests(const std::string& dir, const std::string& node_name);

bool is_static_pod(const Json& pod);  // config.source "file"
bool is_mirror_pod(const Json& pod);  // has the config.mirror annotation
std::string config_hash(const Json& pod);
std::string mirror_hash(const Json& mirror);

// The mirror of a static pod to create in the apiserver: its spec and
// metadata with the config.mirror annotation and the Node as owner; the
// apiserver gives it a uid of its own.
Json make_mirror_pod(const Json& static_pod, const std::string& node_name, const std::string& node_uid);

}  // namespace deckhand::agent
