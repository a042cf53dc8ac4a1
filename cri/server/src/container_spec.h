// Turning a CRI ContainerConfig, its sandbox and its image into the OCI
// runtime's ContainerSpec: command, environment, user, mounts, namespaces,
// resources and security settings, with the request's mistakes reported by
// field name.
#pragma once

#include <string>

#include "deckhand/common/result.h"
#include "deckhand/images/image_store.h"
#include "deckhand/runtime/oci_spec.h"
#include "records.h"
#include "runtime.pb.h"

namespace deckhand::cri {

struct ContainerSpecInput {
  const ContainerRecord& container;   // id, rootfs, cgroup path
  const SandboxRecord& sandbox;
  const images::Image& image;
  bool hugetlb_available = false;
  int own_oom_score_adj = 0;          // ours: the floor where we cannot lower it
  bool can_lower_oom_score_adj = false;
};

Result<runtime::ContainerSpec> make_container_spec(const ContainerSpecInput& in);

runtime::ResourceSpec to_resource_spec(const ::runtime::v1::LinuxContainerResources& r);

// Signal number for a name such as "SIGTERM", "TERM" or "15"; 0 when unknown.
int parse_signal(const std::string& name);

// The signal a stop sends: the request's, else the image's StopSignal, else SIGTERM.
int stop_signal_for(const ::runtime::v1::ContainerConfig& config, const images::ImageConfig& image);

// Checks the parts of a ContainerConfig that need no sandbox or image.
Status validate_container_config(const ::runtime::v1::ContainerConfig& config);

}  // namespace deckhand::cri
