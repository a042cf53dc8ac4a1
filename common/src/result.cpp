#include "deckhand/common/result.h"

#include <cstring>

namespace deckhand {

std::string errno_text(int e) {
  char buf[256];
  // GNU strerror_r returns a pointer that may or may not be buf.
  return std::string(strerror_r(e, buf, sizeof buf));
}

const char* error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::Internal: return "internal";
    case ErrorKind::InvalidArgument: return "invalid argument";
    case ErrorKind::NotFound: return "not found";
    case ErrorKind::AlreadyExists: return "already exists";
    case ErrorKind::FailedPrecondition: return "failed precondition";
    case ErrorKind::Unavailable: return "unavailable";
    case ErrorKind::DeadlineExceeded: return "deadline exceeded";
    case ErrorKind::Unimplemented: return "unimplemented";
    case ErrorKind::PermissionDenied: return "permission denied";
    case ErrorKind::ResourceExhausted: return "resource exhausted";
  }
  return "unknown";
}

}  // namespace deckhand
