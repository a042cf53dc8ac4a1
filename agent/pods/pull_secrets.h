// Registry credentials from a pod's imagePullSecrets, as kubelet reads them:
// Secrets of type kubernetes.io/dockerconfigjson (".dockerconfigjson":
// {"auths": {<registry>: {username, password, auth, ...}}}) or
// kubernetes.io/dockercfg (".dockercfg": {<registry>: {...}}), matched to the
// image's registry host.
#pragma once

#include <string>
#include <vector>

#include "pod_volumes.h"  // ObjectGetter
#include "runtime.pb.h"

namespace deckhand::agent {

// The registry host[:port] of an image reference: "busybox" and
// "library/busybox" are "docker.io"; "localhost:5000/x" is "localhost:5000".
std::string image_registry(const std::string& image);

// Every credential of the pod's imagePullSecrets that applies to image, in
// the order of the secrets; empty when none does. A missing Secret is
// skipped (kubelet pulls anonymously then), a malformed one is an error
// naming it.
Result<std::vector<::runtime::v1::AuthConfig>> pull_credentials(const Json& pod, const std::string& image,
                                                                const ObjectGetter& get);

}  // namespace deckhand::agent
