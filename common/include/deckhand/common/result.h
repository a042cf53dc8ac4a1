// Errors as values across module boundaries. An Error carries a kind (mapped
// at the edge to gRPC codes, HTTP statuses or CNI error codes), the errno of
// the failing syscall when there was one, and a message saying what we were
// doing and with what.
#pragma once

#include <cerrno>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <tl/expected.hpp>

namespace deckhand {

enum class ErrorKind {
  Internal,          // unexpected failure (syscalls, I/O)
  InvalidArgument,   // the caller sent something wrong
  NotFound,          // the named thing does not exist
  AlreadyExists,     // the named thing exists already
  FailedPrecondition,// the call is valid but not in the current state
  Unavailable,       // try again later (peer down, lock held)
  DeadlineExceeded,  // a timeout ran out
  Unimplemented,     // not supported by us
  PermissionDenied,
  ResourceExhausted, // e.g. an IP range with no free address
};

struct Error {
  ErrorKind kind = ErrorKind::Internal;
  int sys_errno = 0;  // errno of a failed syscall, 0 if none
  std::string message;

  // Prefixes context: err.context("start container {}", id) -> "start container x: <message>".
  template <typename... Args>
  Error& context(fmt::format_string<Args...> f, Args&&... args) {
    message = fmt::format(f, std::forward<Args>(args)...) + ": " + message;
    return *this;
  }
};

// strerror that is safe to call from many threads.
std::string errno_text(int e);

template <typename T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return tl::unexpected<Error>(Error{kind, 0, std::move(message)});
}

template <typename... Args>
tl::unexpected<Error> fail(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
  return fail(kind, fmt::format(f, std::forward<Args>(args)...));
}

// For a failed syscall: reads errno now, so call it right after the failure.
// The message is "<what>: <strerror>".
template <typename... Args>
tl::unexpected<Error> sys_fail(fmt::format_string<Args...> f, Args&&... args) {
  int e = errno;
  std::string what = fmt::format(f, std::forward<Args>(args)...);
  ErrorKind kind = e == ENOENT ? ErrorKind::NotFound
                   : e == EEXIST ? ErrorKind::AlreadyExists
                   : e == EACCES || e == EPERM ? ErrorKind::PermissionDenied
                   : ErrorKind::Internal;
  return tl::unexpected<Error>(Error{kind, e, what + ": " + errno_text(e)});
}

// Adds context to the error of a failed result and passes it on.
template <typename T, typename... Args>
Result<T> with_context(Result<T> r, fmt::format_string<Args...> f, Args&&... args) {
  if (!r) r.error().context(f, std::forward<Args>(args)...);
  return r;
}

const char* error_kind_name(ErrorKind k);

}  // namespace deckhand

// Early return on error: DH_TRY(x, expr) declares x as the value of expr.
#define DH_TRY_CAT2(a, b) a##b
#define DH_TRY_CAT(a, b) DH_TRY_CAT2(a, b)
#define DH_TRY(var, expr)                                               \
  auto DH_TRY_CAT(dh_try_, __LINE__) = (expr);                          \
  if (!DH_TRY_CAT(dh_try_, __LINE__))                                   \
    return tl::unexpected(std::move(DH_TRY_CAT(dh_try_, __LINE__).error())); \
  auto var = std::move(*DH_TRY_CAT(dh_try_, __LINE__))
#define DH_CHECK(expr)                                     \
  do {                                                     \
    auto dh_check_r = (expr);                              \
    if (!dh_check_r) return tl::unexpected(std::move(dh_check_r.error())); \
  } while (0)
