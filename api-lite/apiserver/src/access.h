// Who may do what. Authentication: a verified client certificate (CN =
// user, O = groups) or a bearer token from the token file. Authorization:
// system:masters may do anything; a node (system:node:<name> in
// system:nodes) what a kubelet needs, as Kubernetes' Node authorizer allows.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/common/result.h"
#include "resources.h"
#include "watch_cache.h"

namespace deckhand::apiserver {

struct UserInfo {
  std::string name;
  std::vector<std::string> groups;
  bool in_group(const std::string& g) const;
};

// Kubernetes' static token file: CSV lines `token,user,uid[,"group1,group2"]`.
class TokenFile {
 public:
  static Result<TokenFile> load(const std::string& path);
  std::optional<UserInfo> find(const std::string& token) const;

 private:
  std::map<std::string, UserInfo> users_;
};

struct RequestAttributes {
  std::string verb;  // get list watch create update patch delete deletecollection
  const ResourceInfo* resource = nullptr;
  std::string subresource;
  std::string namespace_name;
  std::string name;
  std::string field_selector_name;  // metadata.name=<x> of a list/watch, if given
  const Json* body = nullptr;       // the object a create sends
};

// nullopt = allowed; otherwise why not (for the 403 message).
std::optional<std::string> authorize(const UserInfo& user, const RequestAttributes& a, WatchCache& cache);

}  // namespace deckhand::apiserver
