// The container's init: forked by `create` into the container's pid
// namespace, it builds the container around itself, reports to create, and
// waits on the exec FIFO until `start` lets it exec the container's process.
#pragma once

#include "deckhand/common/process.h"
#include "deckhand/common/result.h"
#include "deckhand/oci/bundle_config.h"
#include "deckhand/oci/container_cgroup.h"
#include "deckhand/oci/container_state.h"

namespace deckhand::oci {

// Returns once the init is set up and waiting (a child killed and reaped if
// dropped), or the init's own error when setup failed.
Result<ChildProcess> spawn_container_init(const BundleConfig& config, const ContainerCgroup& cgroup,
                                          const StateDir& dir);

// Where the children of the caller are born in the pid namespace to join
// (path) or a new one (empty path), until restored: the caller itself stays
// where it is, so that what it forks later (say, LeakSanitizer's helper)
// does not land in the container.
class PidNamespaceForChildren {
 public:
  static Result<PidNamespaceForChildren> enter(const NamespaceEntry* ns);
  PidNamespaceForChildren(PidNamespaceForChildren&&) = default;
  ~PidNamespaceForChildren();
  Status restore();

 private:
  PidNamespaceForChildren() = default;
  UniqueFd own_;
};

}  // namespace deckhand::oci
