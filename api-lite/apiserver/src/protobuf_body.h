// Request bodies in Kubernetes' protobuf encoding
// (Content-Type: application/vnd.kubernetes.protobuf), as kubectl's `create`
// generators send them, turned into the JSON object kubectl would have sent
// as JSON. Only the kinds and fields in the schema table of protobuf_body.cpp
// are understood; fields it does not know are skipped.
#pragma once

#include <string_view>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::apiserver {

// body: the "k8s\0" magic followed by a runtime.Unknown message. The result
// carries "apiVersion" and "kind" from its typeMeta. InvalidArgument for a bad
// envelope, malformed wire data, or a kind the schema table does not know.
Result<Json> decode_protobuf_object(std::string_view body);

}  // namespace deckhand::apiserver
