// The ConfigMaps and Secrets this node's pods use, each kept current by a
// watch of its own (list and watch with fieldSelector metadata.name=<name>:
// kubelet's Watch strategy, and the only kind the node authorizer allows).
// Reads come from a watch's copy once it has one, so that refreshing volumes
// costs the apiserver nothing; a change to an object calls on_change, so that
// the pods using it refresh theirs at once.
#pragma once

#include <compare>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "deckhand/client/api_client.h"
#include "deckhand/client/informer.h"

namespace deckhand::agent {

struct ObjectRef {
  std::string resource;  // "configmaps" or "secrets"
  std::string ns, name;
  auto operator<=>(const ObjectRef&) const = default;
};

// Every ConfigMap and Secret the pod refers to (volumes, env, envFrom, imagePullSecrets).
std::set<ObjectRef> referenced_objects(const Json& pod);

class ReferencedObjects {
 public:
  using OnChange = std::function<void(const ObjectRef&)>;
  ReferencedObjects(std::shared_ptr<client::ApiClient> api, OnChange on_change);
  ~ReferencedObjects();  // stops the watches

  // As ApiClient::get (NotFound when there is no such object); starts the
  // object's watch, read directly until the watch has listed.
  Result<Json> get(const std::string& resource, const std::string& ns, const std::string& name);
  // Stops the watches of objects not in `wanted` (no pod uses them any more).
  void retain(const std::set<ObjectRef>& wanted);
  size_t watch_count();

 private:
  std::shared_ptr<client::ApiClient> api_;
  OnChange on_change_;
  std::mutex mu_;
  std::map<ObjectRef, std::shared_ptr<client::Informer>> watches_;
};

}  // namespace deckhand::agent
