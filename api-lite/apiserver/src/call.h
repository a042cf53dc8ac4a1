// One API request on its way through ApiHandler: who, which resource, which
// verb; plus the small helpers both the read and the write side use.
#pragma once

#include <string>

#include "api_handler.h"

namespace deckhand::apiserver {

struct ApiHandler::Call {
  const http::Request& req;
  UserInfo user;
  const ResourceInfo* info = nullptr;
  std::string ns;
  std::string name;
  std::string sub;
  std::string verb;
  bool dry_run = false;

  std::string key() const { return info->key(ns, name); }
  // The store prefix a list or watch covers: one namespace or all.
  std::string list_prefix() const { return info->namespaced && !ns.empty() ? info->key_prefix() + ns + "/" : info->key_prefix(); }
};

// "2026-11-22T03:04:05Z"
std::string now_rfc3339();
std::string rfc3339_after(std::chrono::seconds s);
// Random bytes from OpenSSL (std::random_device if it fails).
void random_bytes(unsigned char* out, size_t n);
std::string new_uid();
Json object_metadata(const Json& obj);
std::string meta_string(const Json& obj, const char* field);

// Parses a request body as a JSON object; 400 BadRequest naming the problem.
ApiResult<Json> parse_body(const http::Request& req);

// The store's errors as API errors for this resource and name.
tl::unexpected<ApiError> store_error(const Error& e, const ResourceInfo& info, const std::string& name);

// The autoscaling/v1 Scale of a Deployment or ReplicaSet.
Json scale_of(const Json& obj);

// Wraps the apiVersion/kind of a resource around an object missing them.
void set_type_meta(const ResourceInfo& info, Json& obj);

}  // namespace deckhand::apiserver
