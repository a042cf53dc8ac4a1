// The CNI error result: {cniVersion, code, msg, details} on stdout with a
// non-zero exit (spec 1.0.0 "Error", codes 1-99 reserved by the spec).
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::cni {

// The spec's well-known codes.
enum CniCode : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnv = 4,
  kIoFailure = 5,
  kDecodingFailure = 6,
  kInvalidNetworkConfig = 7,
  kTryAgainLater = 11,
  kPluginNotAvailable = 50,  // spec 1.1, STATUS
  kInternal = 999,           // what Go's skel reports for errors without a code
};

struct CniError {
  int code = kInternal;
  std::string msg;
  std::string details;

  Json to_json(const std::string& cni_version) const;
  // Parses a plugin's error output; nullopt-like failure when it is not one.
  static Result<CniError> from_json(const Json& j);
};

template <typename T>
using CniResult = tl::expected<T, CniError>;
using CniStatus = tl::expected<void, CniError>;

inline tl::unexpected<CniError> cni_fail(int code, std::string msg, std::string details = "") {
  return tl::unexpected<CniError>(CniError{code, std::move(msg), std::move(details)});
}

// A deckhand Error as a CNI error with the given code; the message is kept,
// errno text included.
inline tl::unexpected<CniError> cni_fail(int code, const Error& e) {
  return cni_fail(code, e.message);
}

// The code for an Error from our libraries when no better one is known:
// NotFound/Internal/PermissionDenied -> I/O failure, InvalidArgument -> invalid
// network config, Unavailable/ResourceExhausted -> try again later.
int code_for_kind(ErrorKind kind);

// Either kind of error as a CNI error (an Error gets code_for_kind).
inline CniError as_cni_error(CniError e) { return e; }
inline CniError as_cni_error(const Error& e) { return CniError{code_for_kind(e.kind), e.message, ""}; }

// DH_TRY / DH_CHECK for CNI handlers: pass on the error of a Result or a
// CniResult as a CniError.
#define CNI_TRY(var, expr)                                                                         \
  auto DH_TRY_CAT(cni_try_, __LINE__) = (expr);                                                    \
  if (!DH_TRY_CAT(cni_try_, __LINE__))                                                             \
    return tl::unexpected(::deckhand::cni::as_cni_error(DH_TRY_CAT(cni_try_, __LINE__).error()));  \
  auto var = std::move(*DH_TRY_CAT(cni_try_, __LINE__))

#define CNI_CHECK(expr)                                                             \
  do {                                                                              \
    auto cni_check_r = (expr);                                                      \
    if (!cni_check_r) return tl::unexpected(::deckhand::cni::as_cni_error(cni_check_r.error())); \
  } while (0)

}  // namespace deckhand::cni
