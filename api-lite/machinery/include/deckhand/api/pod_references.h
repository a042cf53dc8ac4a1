// The ConfigMaps and Secrets a pod uses: what the node authorizer lets a
// node read, and what the node agent keeps watches on.
#pragma once

#include <string>
#include <vector>

#include "deckhand/common/json.h"

namespace deckhand::api {

// Names of the objects of `resource` ("configmaps" or "secrets") a pod spec
// refers to: volumes, projected sources, env valueFrom, envFrom, and for
// secrets imagePullSecrets. A name may come more than once.
std::vector<std::string> pod_referenced_names(const Json& spec, const std::string& resource);

}  // namespace deckhand::api
