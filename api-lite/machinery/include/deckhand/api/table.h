// meta.k8s.io/v1 Table output, which `kubectl get` asks for: the columns
// kubectl users know per resource (pods: Name, Ready, Status, Restarts, Age,
// and with priority 1, shown by -o wide: IP, Node, Nominated Node, Readiness
// Gates), and, like Kubernetes' default table, Name + "Created At" (type
// date, RFC 3339 UTC) for resources without their own columns. Cells always
// include the priority-1 columns; kubectl shows them only with -o wide.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "deckhand/common/json.h"

namespace deckhand::api {

struct TableRequest {
  std::string resource;  // plural: "pods", "nodes", "deployments", ...
  bool include_object_metadata = true;  // rows[].object as PartialObjectMetadata (includeObject=Metadata, the default)
  bool include_full_object = false;     // includeObject=Object
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// A Table of the given objects. `list_metadata` is the list's metadata
// (resourceVersion, continue) copied to the Table's.
Json make_table(const TableRequest& request, const std::vector<Json>& objects, const Json& list_metadata);

// Kubernetes' short human durations for the Age column: "5s", "3m12s", "2d3h", "90d", "<unknown>".
std::string human_duration(std::chrono::system_clock::duration d);

}  // namespace deckhand::api
