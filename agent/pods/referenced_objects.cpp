#include "referenced_objects.h"

#include <vector>

#include "deckhand/api/pod_references.h"
#include "pod_config.h"

namespace deckhand::agent {

namespace {

const client::Resource& resource_of(const std::string& name) {
  return name == "secrets" ? client::resources::kSecrets : client::resources::kConfigMaps;
}

}  // namespace

std::set<ObjectRef> referenced_objects(const Json& pod) {
  std::set<ObjectRef> refs;
  std::string ns = json_string(json_at(pod, "metadata"), "namespace");
  for (const char* resource : {"configmaps", "secrets"})
    for (auto& name : api::pod_referenced_names(json_at(pod, "spec"), resource)) refs.insert({resource, ns, name});
  return refs;
}

ReferencedObjects::ReferencedObjects(std::shared_ptr<client::ApiClient> api, OnChange on_change)
    : api_(std::move(api)), on_change_(std::move(on_change)) {}

ReferencedObjects::~ReferencedObjects() { retain({}); }

Result<Json> ReferencedObjects::get(const std::string& resource, const std::string& ns, const std::string& name) {
  ObjectRef ref{resource, ns, name};
  std::shared_ptr<client::Informer> watch;
  {
    std::lock_guard lock(mu_);
    auto& w = watches_[ref];
    if (!w) {
      client::InformerHandlers h;
      h.on_add = [this, ref](const Json&) { on_change_(ref); };
      h.on_update = [this, ref](const Json&, const Json&) { on_change_(ref); };
      h.on_delete = [this, ref](const Json&) { on_change_(ref); };
      client::InformerOptions o;
      o.name = resource + " " + ns + "/" + name;
      w = client::Informer::start(
          client::make_list_watcher(api_, resource_of(resource), ns, "", "metadata.name=" + name), h, o);
    }
    watch = w;
  }
  if (!watch->has_synced()) return api_->get(resource_of(resource), ns, name);
  auto object = watch->get(ns + "/" + name);
  if (!object) return fail(ErrorKind::NotFound, "{} \"{}\" not found", resource, name);
  return *object;
}

void ReferencedObjects::retain(const std::set<ObjectRef>& wanted) {
  std::vector<std::shared_ptr<client::Informer>> stopped;  // stopped outside the lock: their handlers may be running
  {
    std::lock_guard lock(mu_);
    for (auto it = watches_.begin(); it != watches_.end();) {
      if (wanted.count(it->first)) {
        ++it;
        continue;
      }
      stopped.push_back(std::move(it->second));
      it = watches_.erase(it);
    }
  }
}

size_t ReferencedObjects::watch_count() {
  std::lock_guard lock(mu_);
  return watches_.size();
}

}  // namespace deckhand::agent
