// The apiserver's storage interface: a revisioned key-value store in the
// shape of etcd v3, so that the embedded SQLite backend and a later etcd
// backend are interchangeable. Only the apiserver uses it.
//
// Every successful write gets the next global revision (1, 2, 3, ...); the
// apiserver uses it as an object's resourceVersion. Revisions never go back,
// also across restarts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand::store {

using Revision = int64_t;

struct KeyValue {
  std::string key;
  std::string value;
  Revision create_revision = 0;  // revision of the write that created the key
  Revision mod_revision = 0;     // revision of the last write to the key
};

enum class EventType { Put, Delete };

// One committed change. For Put, kv is the new value (a create when
// kv.create_revision == kv.mod_revision). For Delete, kv holds the value the
// key had before and kv.mod_revision is the revision of the delete.
struct Event {
  EventType type = EventType::Put;
  KeyValue kv;
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // ordered by key
  Revision revision = 0;      // the store's revision the range was read at
  bool more = false;          // limit cut the result short
};

// Compare-and-swap condition for update and remove.
// expected_mod_revision == 0 means "whatever the current revision is".
struct Precondition {
  Revision expected_mod_revision = 0;
};

// A registration made by watch(); the callback stops when it is destroyed:
// no callback runs after the destructor returns. It may also be destroyed
// from inside its own callback (that call finishes, no other follows).
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Creates key; ErrorKind::AlreadyExists if it exists. Returns the new revision.
  virtual Result<Revision> create(const std::string& key, const std::string& value) = 0;
  // Replaces the value of an existing key. ErrorKind::NotFound if absent,
  // ErrorKind::FailedPrecondition if the precondition does not hold.
  virtual Result<Revision> update(const std::string& key, const std::string& value, Precondition pre) = 0;
  // Deletes key; same errors as update. Returns the revision of the delete.
  virtual Result<Revision> remove(const std::string& key, Precondition pre) = 0;

  virtual Result<std::optional<KeyValue>> get(const std::string& key) = 0;
  // The keys starting with prefix, ordered, starting after start_after (if
  // non-empty), at most limit of them (0 = no limit), at the current revision.
  virtual Result<RangeResult> range(const std::string& prefix, const std::string& start_after, int64_t limit) = 0;

  virtual Revision current_revision() = 0;
  // Events under prefix with revision > after, in revision order. Calls
  // callback for what is already committed, then for every later commit,
  // from one thread per watch, never concurrently for the same watch.
  // ErrorKind::FailedPrecondition ("compacted") if after < compacted_revision().
  virtual Result<std::unique_ptr<WatchHandle>> watch(const std::string& prefix, Revision after,
                                                     std::function<void(const std::vector<Event>&)> callback) = 0;

  // Forgets the history of revisions <= upto (current values stay).
  virtual Status compact(Revision upto) = 0;
  virtual Revision compacted_revision() = 0;
};

}  // namespace deckhand::store
