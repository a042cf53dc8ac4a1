// The garbage collector: objects whose owners (by uid) are all gone are
// deleted (background cascading deletion); an owner being deleted in the
// foreground (finalizer foregroundDeletion) has its dependents deleted and
// keeps its finalizer until no dependent with blockOwnerDeletion is left;
// an owner deleted with the `orphan` finalizer has its dependents' owner
// references to it removed, then the finalizer.
//
// It watches a fixed set of resources (their informers shared with the
// other controllers) and indexes dependents by owner uid. An owner of a kind
// it does not watch is confirmed by a GET; one of a kind it does not know is
// assumed to exist.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "deckhand/client/api_client.h"
#include "deckhand/client/work_queue.h"
#include "deckhand/controllers/controller.h"
#include "deckhand/controllers/shared_informers.h"

namespace deckhand::controllers {

// The resources the collector watches by default.
std::vector<client::Resource> default_gc_resources();

// How an object stands towards one of its owners.
enum class OwnerState {
  Solid,           // exists (and is not deleting its dependents first)
  Dangling,        // gone, or replaced by another object of that name (uid differs)
  WaitingForDependents,  // deleting, with the foregroundDeletion finalizer
};
OwnerState owner_state(const std::optional<Json>& owner, const std::string& ref_uid);

// What the collector does with a dependent, given its owners' states.
enum class GcVerdict { Keep, RemoveRefs, DeleteBackground, DeleteForeground, DeleteOrphan };
// `has_dependents`: other objects name this one as their owner.
GcVerdict gc_verdict(const Json& obj, const std::vector<OwnerState>& owners, bool has_dependents);

class GarbageCollector : public Controller {
 public:
  GarbageCollector(std::shared_ptr<client::ApiClient> api, SharedInformers& informers,
                   std::vector<client::Resource> resources = default_gc_resources());
  ~GarbageCollector() override;
  std::string name() const override { return "garbagecollector"; }
  void run(int workers) override;
  void stop() override;

  // Items: "dependent|<resource index>|<key>" or "owner|<resource index>|<key>".
  Result<SyncResult> sync(const std::string& item);

 private:
  struct Node {
    size_t resource;
    std::string key;
    bool operator<(const Node& o) const { return resource < o.resource || (resource == o.resource && key < o.key); }
  };
  void on_change(size_t resource, const Json* old_obj, const Json& obj);
  void on_delete(size_t resource, const Json& obj);
  void index(size_t resource, const Json& obj);
  void unindex(const Json& obj);
  std::vector<Node> dependents_of(const std::string& uid);
  void enqueue(const char* kind, size_t resource, const std::string& key);
  Result<std::optional<Json>> find_owner(const Json& ref, const std::string& dependent_ns);
  Result<SyncResult> sync_dependent(size_t resource, const std::string& key);
  Result<SyncResult> sync_owner(size_t resource, const std::string& key);
  Status remove_finalizer(size_t resource, const Json& obj, const std::string& finalizer);
  Status remove_owner_refs(size_t resource, const Json& obj, const std::set<std::string>& owner_uids);

  std::shared_ptr<client::ApiClient> api_;
  SharedInformers& informers_;
  std::vector<client::Resource> resources_;
  std::mutex mu_;
  std::unordered_map<std::string, Node> by_uid_;
  std::unordered_map<std::string, std::set<Node>> dependents_;       // owner uid -> dependents
  std::unordered_map<std::string, std::vector<std::string>> owners_;  // dependent uid -> owner uids
  client::WorkQueue queue_;
  QueueWorkers workers_;
};

}  // namespace deckhand::controllers
