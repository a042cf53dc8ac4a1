#include "deckhand/api/status.h"

#include <fmt/format.h>

#include <set>

#include "go_format.h"

namespace deckhand::api {

namespace {

// Kubernetes omits empty fields of a Status (omitempty everywhere).
Json details_json(const StatusDetails& details) {
  Json out = Json::object();
  if (!details.name.empty()) out["name"] = details.name;
  if (!details.group.empty()) out["group"] = details.group;
  if (!details.kind.empty()) out["kind"] = details.kind;
  if (!details.causes.empty()) {
    Json causes = Json::array();
    for (const auto& c : details.causes) {
      Json cause = Json::object();
      if (!c.reason.empty()) cause["reason"] = c.reason;
      if (!c.message.empty()) cause["message"] = c.message;
      if (!c.field.empty()) cause["field"] = c.field;
      causes.push_back(std::move(cause));
    }
    out["causes"] = std::move(causes);
  }
  return out;
}

Json status_object(const std::string& status) {
  return Json{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()}, {"status", status}};
}

// "pods" or "deployments.apps", as schema.GroupResource prints itself.
std::string qualified(const std::string& resource, const std::string& group) {
  return group.empty() ? resource : resource + "." + group;
}

}  // namespace

Json failure_status(int code, const std::string& reason, const std::string& message, const StatusDetails& details) {
  Json out = status_object("Failure");
  if (!message.empty()) out["message"] = message;
  if (!reason.empty()) out["reason"] = reason;
  Json d = details_json(details);
  if (!d.empty()) out["details"] = std::move(d);
  if (code != 0) out["code"] = code;
  return out;
}

Json success_status(const StatusDetails& details) {
  Json out = status_object("Success");
  Json d = details_json(details);
  if (!d.empty()) out["details"] = std::move(d);
  out["code"] = 200;
  return out;
}

Json not_found(const std::string& resource, const std::string& group, const std::string& name) {
  return failure_status(404, "NotFound", fmt::format("{} {} not found", qualified(resource, group), go_quote(name)),
                        {name, group, resource, {}});
}

Json already_exists(const std::string& resource, const std::string& group, const std::string& name) {
  return failure_status(409, "AlreadyExists",
                        fmt::format("{} {} already exists", qualified(resource, group), go_quote(name)),
                        {name, group, resource, {}});
}

Json conflict(const std::string& resource, const std::string& group, const std::string& name, const std::string& why) {
  return failure_status(
      409, "Conflict",
      fmt::format("Operation cannot be fulfilled on {} {}: {}", qualified(resource, group), go_quote(name), why),
      {name, group, resource, {}});
}

Json invalid(const std::string& kind, const std::string& /*resource*/, const std::string& group,
             const std::string& name, const std::vector<Cause>& causes) {
  // As Kubernetes' aggregate error: one message bare, several in brackets,
  // repeated messages once.
  std::vector<std::string> messages;
  std::set<std::string> seen;
  for (const auto& c : causes) {
    std::string m = c.field.empty() ? c.message : c.field + ": " + c.message;
    if (seen.insert(m).second) messages.push_back(std::move(m));
  }
  std::string message = fmt::format("{} {} is invalid", qualified(kind, group), go_quote(name));
  if (messages.size() == 1) {
    message += ": " + messages[0];
  } else if (messages.size() > 1) {
    message += fmt::format(": [{}]", fmt::join(messages, ", "));
  }
  // details.kind of an Invalid Status is the object's kind, which kubectl prints.
  return failure_status(422, "Invalid", message, {name, group, kind, causes});
}

Json bad_request(const std::string& message) { return failure_status(400, "BadRequest", message); }

Json forbidden(const std::string& user, const std::string& verb, const std::string& resource,
               const std::string& group, const std::string& name, const std::string& namespace_name) {
  // `resource` may carry a subresource ("pods/exec"): the message names it,
  // the qualified resource and details do not.
  const std::string base = resource.substr(0, resource.find('/'));
  std::string why = fmt::format("User {} cannot {} resource {} in API group {}", go_quote(user), verb,
                                go_quote(resource), go_quote(group));
  why += namespace_name.empty() ? " at the cluster scope" : " in the namespace " + go_quote(namespace_name);
  std::string message = name.empty()
                            ? fmt::format("{} is forbidden: {}", qualified(base, group), why)
                            : fmt::format("{} {} is forbidden: {}", qualified(base, group), go_quote(name), why);
  return failure_status(403, "Forbidden", message, {name, group, base, {}});
}

}  // namespace deckhand::api
