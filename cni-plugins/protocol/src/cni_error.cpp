#include "deckhand/cni/cni_error.h"

namespace deckhand::cni {

Json CniError::to_json(const std::string& cni_version) const {
  Json j = {{"cniVersion", cni_version}, {"code", code}, {"msg", msg}};
  if (!details.empty()) j["details"] = details;
  return j;
}

Result<CniError> CniError::from_json(const Json& j) {
  if (!j.is_object() || !j.contains("code") || !j["code"].is_number_integer())
    return fail(ErrorKind::InvalidArgument, "not a CNI error (no integer \"code\")");
  CniError e;
  e.code = j["code"].get<int>();
  if (auto m = j.find("msg"); m != j.end() && m->is_string()) e.msg = m->get<std::string>();
  if (auto d = j.find("details"); d != j.end() && d->is_string()) e.details = d->get<std::string>();
  return e;
}

int code_for_kind(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument: return kInvalidNetworkConfig;
    case ErrorKind::Unavailable:
    case ErrorKind::ResourceExhausted: return kTryAgainLater;
    case ErrorKind::Unimplemented: return kUnsupportedField;
    default: return kIoFailure;
  }
}

}  // namespace deckhand::cni
