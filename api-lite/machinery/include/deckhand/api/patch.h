// The three patch formats of the Kubernetes API, applied to JSON objects.
// Errors are ErrorKind::InvalidArgument with a message naming the operation
// or path that failed (the apiserver answers them with 400 / 422).
#pragma once

#include <string>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::api {

// RFC 6902 (application/json-patch+json): add, remove, replace, move, copy, test.
Result<Json> apply_json_patch(const Json& document, const Json& patch);

// RFC 7386 (application/merge-patch+json): objects merge, null deletes, the rest replaces.
Result<Json> apply_merge_patch(const Json& document, const Json& patch);

// Strategic merge patch (application/strategic-merge-patch+json), to the
// extent kubectl's client-side apply, edit, label, annotate and scale need:
// lists with a merge key (containers, initContainers, ephemeralContainers and
// volumes by name, ports by containerPort, env by name, volumeMounts by
// mountPath, volumeDevices by devicePath, imagePullSecrets by name,
// service ports by port, ...) merge element by element; other lists replace.
// Directives: "$patch": "delete" | "replace" | "merge", "$setElementOrder/<field>",
// "$deleteFromPrimitiveList/<field>", "$retainKeys". `kind` is the object's
// kind ("Pod", "Deployment", ...), which decides where the merge keys apply.
Result<Json> apply_strategic_merge_patch(const Json& document, const Json& patch, const std::string& kind);

}  // namespace deckhand::api
