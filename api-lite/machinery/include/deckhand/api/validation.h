// Validation helpers with Kubernetes' rules and messages. Each check returns
// the problems it found as causes (field path + message), so that the
// apiserver can answer 422 Invalid with details.causes.
#pragma once

#include <string>
#include <vector>

#include "deckhand/common/json.h"

namespace deckhand::api {

struct Cause {
  std::string field;    // "metadata.name", "spec.containers[0].image"
  std::string reason;   // "FieldValueInvalid", "FieldValueRequired", "FieldValueNotSupported", "FieldValueDuplicate"
  std::string message;  // "Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of ..."
};

// Field errors in Kubernetes' form. `value` is printed as Go prints it
// (strings quoted, numbers bare): field_invalid("spec.x", "Foo", "bad") has
// the message `Invalid value: "Foo": bad`.
Cause field_required(const std::string& field, const std::string& detail = "");
Cause field_invalid(const std::string& field, const Json& value, const std::string& detail);
Cause field_not_supported(const std::string& field, const Json& value, const std::vector<std::string>& supported);
Cause field_duplicate(const std::string& field, const Json& value);
Cause field_forbidden(const std::string& field, const std::string& detail);
Cause field_too_long(const std::string& field, std::size_t max_bytes);

// The messages for one value (none when valid), the parts of the checks below.
std::vector<std::string> dns1123_subdomain_errors(const std::string& value);
std::vector<std::string> dns1123_label_errors(const std::string& value);
std::vector<std::string> qualified_name_errors(const std::string& value);  // label keys
std::vector<std::string> label_value_errors(const std::string& value);

// RFC 1123 subdomain (<= 253, lower-case alphanumerics, '-' and '.'), and label (<= 63, no '.').
std::vector<Cause> check_dns1123_subdomain(const std::string& value, const std::string& field);
std::vector<Cause> check_dns1123_label(const std::string& value, const std::string& field);
// Label keys ([prefix/]name) and values; annotation keys.
std::vector<Cause> check_labels(const Json& labels, const std::string& field);
std::vector<Cause> check_annotations(const Json& annotations, const std::string& field);

// Checks every part of an object's metadata the server relies on: name (or
// generateName) by the given rule, namespace, labels, annotations.
enum class NameRule { Dns1123Subdomain, Dns1123Label };
std::vector<Cause> check_object_meta(const Json& metadata, NameRule rule, bool namespaced);

// Pod spec checks the scheduler and agent rely on: containers present with
// unique DNS-1123-label names and an image, restartPolicy, dnsPolicy and
// container ports in range, volume names unique.
std::vector<Cause> check_pod_spec(const Json& spec, const std::string& field);

}  // namespace deckhand::api
