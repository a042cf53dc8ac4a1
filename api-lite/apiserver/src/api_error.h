// Errors of API calls: an HTTP code and the Status object that goes with it.
#pragma once

#include <tl/expected.hpp>

#include "deckhand/api/status.h"
#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::apiserver {

struct ApiError {
  int code = 500;
  Json status;
};

template <typename T>
using ApiResult = tl::expected<T, ApiError>;

inline tl::unexpected<ApiError> api_fail(const Json& status) {
  int code = status.contains("code") && status["code"].is_number_integer() ? status["code"].get<int>() : 500;
  return tl::unexpected<ApiError>(ApiError{code, status});
}

inline tl::unexpected<ApiError> api_fail(int code, const std::string& reason, const std::string& message) {
  return api_fail(api::failure_status(code, reason, message));
}

inline tl::unexpected<ApiError> internal_error(const Error& e) {
  return api_fail(500, "InternalError", "Internal error occurred: " + e.message);
}

}  // namespace deckhand::apiserver

#define API_TRY(var, expr)                                               \
  auto DH_TRY_CAT(api_try_, __LINE__) = (expr);                          \
  if (!DH_TRY_CAT(api_try_, __LINE__))                                   \
    return tl::unexpected(std::move(DH_TRY_CAT(api_try_, __LINE__).error())); \
  auto var = std::move(*DH_TRY_CAT(api_try_, __LINE__))
#define API_CHECK(expr)                                     \
  do {                                                      \
    auto api_check_r = (expr);                              \
    if (!api_check_r) return tl::unexpected(std::move(api_check_r.error())); \
  } while (0)
