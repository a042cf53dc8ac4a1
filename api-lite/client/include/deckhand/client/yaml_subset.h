// A reader for the part of YAML that kubeconfig files and static pod
// manifests use (there is no YAML library among our packages): block
// mappings and sequences, plain, single- and double-quoted scalars (also
// over several lines), literal and folded block scalars (|, >), comments,
// and flow collections written on one line.
// Anchors, aliases, tags, complex keys and several documents are refused.
#pragma once

#include <string>
#include <string_view>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::client {

// The document as JSON: plain scalars typed as YAML 1.2's core schema types
// them (null, true/false, integers, floats, else strings); keys are strings.
// Errors are InvalidArgument "<what>:<line>: <problem>".
Result<Json> parse_yaml_subset(std::string_view text, const std::string& what);

}  // namespace deckhand::client
