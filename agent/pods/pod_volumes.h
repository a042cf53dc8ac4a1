// A pod's volumes on the node, as kubelet lays them out:
//   <pod_dir>/volumes/kubernetes.io~empty-dir/<name>     (tmpfs when medium is Memory)
//   <pod_dir>/volumes/kubernetes.io~configmap/<name>
//   <pod_dir>/volumes/kubernetes.io~secret/<name>        (on a tmpfs of its own)
//   <pod_dir>/volumes/kubernetes.io~downward-api/<name>
//   <pod_dir>/volumes/kubernetes.io~projected/<name>
// ConfigMap, secret, downward-API and projected contents are written the
// atomic way (a timestamped directory, a `..data` symlink swapped with
// rename, and per-key symlinks through `..data`), so a container never reads
// half of an update. hostPath volumes are bind mounts of the host path.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"
#include "runtime.pb.h"

namespace deckhand::agent {

// Reads a ConfigMap or Secret the pod refers to: resource is "configmaps" or
// "secrets". An error of kind NotFound is how "it does not exist" is said.
using ObjectGetter =
    std::function<Result<Json>(const std::string& resource, const std::string& ns, const std::string& name)>;

// <root_dir>/pods/<uid>
std::string pod_directory(const std::string& root_dir, const std::string& uid);

// Makes (or refreshes) every volume of the pod under pod_dir. Idempotent:
// called on each sync, it rewrites configMap/secret/downwardAPI contents
// only when they changed. A missing ConfigMap/Secret (or key) that is not
// `optional` is an error naming the volume and the object; nothing half-made
// is left behind by a failed call.
Status set_up_pod_volumes(const Json& pod, const std::string& pod_dir, const ObjectGetter& get);

// The CRI mounts of one container from its volumeMounts (readOnly, subPath,
// mountPropagation); an error names a volumeMount whose volume the pod does
// not declare or whose subPath escapes the volume.
Result<std::vector<::runtime::v1::Mount>> container_mounts(const Json& pod, const Json& container,
                                                           const std::string& pod_dir);

// Unmounts the tmpfs volumes and removes pod_dir entirely. Nothing under it
// may be mounted any more when this returns successfully.
Status tear_down_pod_volumes(const std::string& pod_dir);

}  // namespace deckhand::agent
