#include "deckhand/cri/grpc_status.h"

#include <grpcpp/support/status_code_enum.h>

#include <array>
#include <utility>

namespace deckhand::cri {
namespace {

using grpc::StatusCode;

// One table for both directions, so that they cannot drift apart.
constexpr std::array<std::pair<StatusCode, ErrorKind>, 10> kCodeKinds{{
    {StatusCode::INVALID_ARGUMENT, ErrorKind::InvalidArgument},
    {StatusCode::NOT_FOUND, ErrorKind::NotFound},
    {StatusCode::ALREADY_EXISTS, ErrorKind::AlreadyExists},
    {StatusCode::FAILED_PRECONDITION, ErrorKind::FailedPrecondition},
    {StatusCode::UNAVAILABLE, ErrorKind::Unavailable},
    {StatusCode::DEADLINE_EXCEEDED, ErrorKind::DeadlineExceeded},
    {StatusCode::UNIMPLEMENTED, ErrorKind::Unimplemented},
    {StatusCode::PERMISSION_DENIED, ErrorKind::PermissionDenied},
    {StatusCode::RESOURCE_EXHAUSTED, ErrorKind::ResourceExhausted},
    {StatusCode::INTERNAL, ErrorKind::Internal},
}};

// Indexed by code number (0..16), spelled as gRPC-Go prints codes.
constexpr std::array<const char*, 17> kCodeNames{
    "OK",       "Canceled",        "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",   "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",      "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated",
};

}  // namespace

ErrorKind kind_from_grpc(int grpc_code) {
  for (const auto& [code, kind] : kCodeKinds)
    if (static_cast<int>(code) == grpc_code) return kind;
  return ErrorKind::Internal;
}

int grpc_code_from_kind(ErrorKind kind) {
  for (const auto& [code, k] : kCodeKinds)
    if (k == kind) return static_cast<int>(code);
  return static_cast<int>(StatusCode::INTERNAL);
}

std::string grpc_code_name(int grpc_code) {
  if (grpc_code >= 0 && grpc_code < static_cast<int>(kCodeNames.size())) return kCodeNames[grpc_code];
  return "Code(" + std::to_string(grpc_code) + ")";
}

}  // namespace deckhand::cri
