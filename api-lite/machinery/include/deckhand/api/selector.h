// Label and field selectors, in the string form of list/watch query
// parameters and (labels) in the LabelSelector object form of specs.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::api {

// "a=b,c!=d,e in (f,g),h notin (i),j,!k,l>3" ("==" as "="). Parse errors are
// InvalidArgument naming the term. from_json(null) is Kubernetes' "nothing"
// selector: it matches no object (and is not empty()).
class LabelSelector {
 public:
  static Result<LabelSelector> parse(const std::string& text);
  // From {"matchLabels": {...}, "matchExpressions": [{key, operator, values}]}
  // (In, NotIn, Exists, DoesNotExist). An empty object matches everything.
  static Result<LabelSelector> from_json(const Json& selector);
  // From a plain map (a Service's or ReplicationController's selector).
  static LabelSelector from_map(const std::map<std::string, std::string>& labels);

  bool matches(const std::map<std::string, std::string>& labels) const;
  // metadata.labels of an object (absent = no labels).
  bool matches_object(const Json& object) const;
  // True for a selector that matches everything.
  bool empty() const { return requirements_.empty() && !matches_nothing_; }
  // Kubernetes' canonical form: requirements sorted by key, set values sorted.
  std::string to_string() const;

  // Gt/Lt ("a>3", "a<3") compare integers, as in Kubernetes' string syntax.
  enum class Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist, Gt, Lt };
  struct Requirement {
    std::string key;
    Op op = Op::Equals;
    std::vector<std::string> values;
  };
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
  bool matches_nothing_ = false;
};

// "metadata.name=x,spec.nodeName!=,status.phase=Running": only = (==) and !=.
class FieldSelector {
 public:
  static Result<FieldSelector> parse(const std::string& text);
  // `field_value` returns an object's value of a field path, or nullopt when
  // the field is not supported for that resource. matches() is false for a
  // requirement on an unsupported field; check_supported() reports it first.
  using FieldGetter = std::function<std::optional<std::string>(const Json& object, const std::string& field)>;
  Status check_supported(const Json& sample_object_or_null, const std::vector<std::string>& supported) const;
  bool matches(const Json& object, const FieldGetter& field_value) const;
  bool empty() const { return requirements_.empty(); }

  struct Requirement {
    std::string field;
    bool equals = true;
    std::string value;
  };
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

// The field selectors Kubernetes supports per resource (plural name):
// metadata.name and metadata.namespace for all; pods: spec.nodeName,
// spec.restartPolicy, spec.schedulerName, spec.serviceAccountName,
// spec.hostNetwork, status.phase, status.podIP, status.nominatedNodeName;
// events: involvedObject.{kind,namespace,name,uid,apiVersion,resourceVersion,fieldPath},
// reason, reportingComponent, source, type; nodes: spec.unschedulable;
// namespaces: status.phase; secrets: type.
std::vector<std::string> supported_fields(const std::string& resource);
// An object's value of one of those fields ("" when the object lacks it;
// booleans as "true"/"false"), or nullopt for a field not supported there.
// Usable as a FieldGetter through a lambda binding `resource`.
std::optional<std::string> standard_field_value(const std::string& resource, const Json& object,
                                                const std::string& field);

}  // namespace deckhand::api
