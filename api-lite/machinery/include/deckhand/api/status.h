// meta/v1 Status objects, the body of every API error.
#pragma once

#include <string>
#include <vector>

#include "deckhand/api/validation.h"
#include "deckhand/common/json.h"

namespace deckhand::api {

struct StatusDetails {
  std::string name;
  std::string group;
  std::string kind;  // the resource's plural lower-case name, as Kubernetes fills it ("pods")
  std::vector<Cause> causes;
};

// {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
//  "message":...,"reason":...,"details":{...},"code":...}
Json failure_status(int code, const std::string& reason, const std::string& message,
                    const StatusDetails& details = {});
Json success_status(const StatusDetails& details = {});

// The usual reasons: NotFound 404, AlreadyExists 409, Conflict 409,
// Invalid 422, BadRequest 400, Forbidden 403, Unauthorized 401,
// MethodNotAllowed 405, Gone 410, RequestEntityTooLarge 413,
// UnsupportedMediaType 415, NotAcceptable 406, ServiceUnavailable 503,
// InternalError 500. Messages match Kubernetes' wording, e.g.
// not_found("pods", "", "x") -> `pods "x" not found`.
Json not_found(const std::string& resource, const std::string& group, const std::string& name);
Json already_exists(const std::string& resource, const std::string& group, const std::string& name);
// `Operation cannot be fulfilled on pods "x": the object has been modified; please apply your changes to the latest version and try again`
Json conflict(const std::string& resource, const std::string& group, const std::string& name, const std::string& why);
// `Pod "x" is invalid: [spec.containers: Required value, ...]`, reason Invalid, 422.
Json invalid(const std::string& kind, const std::string& resource, const std::string& group,
             const std::string& name, const std::vector<Cause>& causes);
Json bad_request(const std::string& message);
Json forbidden(const std::string& user, const std::string& verb, const std::string& resource,
               const std::string& group, const std::string& name, const std::string& namespace_name);

}  // namespace deckhand::api
