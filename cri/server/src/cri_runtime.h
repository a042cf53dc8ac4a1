// The runtime behind the gRPC services: sandboxes, containers and images,
// with errors as values. The gRPC layer (grpc_services.cpp) only maps
// requests in and Results out.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "deckhand/cni/invoker.h"
#include "deckhand/common/result.h"
#include "deckhand/common/rollback.h"
#include "deckhand/cri_server/config.h"
#include "deckhand/images/image_puller.h"
#include "deckhand/images/image_store.h"
#include "deckhand/runtime/cgroups.h"
#include "deckhand/runtime/oci_runtime.h"
#include "records.h"
#include "runtime.pb.h"

namespace deckhand::cri {

class CriRuntime {
 public:
  static Result<std::unique_ptr<CriRuntime>> create(const CriConfig& config);

  // Sandboxes (sandbox.cpp)
  Result<std::string> run_pod_sandbox(const v1::PodSandboxConfig& config, const std::string& handler);
  Status stop_pod_sandbox(const std::string& id);
  Status remove_pod_sandbox(const std::string& id);
  Result<v1::PodSandboxStatusResponse> pod_sandbox_status(const std::string& id, bool verbose);
  std::vector<v1::PodSandbox> list_pod_sandbox(const v1::PodSandboxFilter& filter);

  // Containers (container.cpp)
  Result<std::string> create_container(const std::string& pod_id, const v1::ContainerConfig& config);
  Status start_container(const std::string& id);
  Status stop_container(const std::string& id, int64_t timeout_seconds);
  Status remove_container(const std::string& id);
  Result<v1::ContainerStatusResponse> container_status(const std::string& id, bool verbose);
  std::vector<v1::Container> list_containers(const v1::ContainerFilter& filter);
  Result<v1::ExecSyncResponse> exec_sync(const v1::ExecSyncRequest& req);
  Status reopen_container_log(const std::string& id);
  Status update_container_resources(const std::string& id, const v1::LinuxContainerResources& r);

  // Stats (stats.cpp)
  Result<v1::ContainerStats> container_stats(const std::string& id);
  std::vector<v1::ContainerStats> list_container_stats(const v1::ContainerStatsFilter& filter);
  Result<v1::PodSandboxStats> pod_sandbox_stats(const std::string& id);
  std::vector<v1::PodSandboxStats> list_pod_sandbox_stats(const v1::PodSandboxStatsFilter& filter);

  // Images (images.cpp)
  std::vector<v1::Image> list_images(const v1::ImageFilter& filter);
  Result<v1::ImageStatusResponse> image_status(const v1::ImageSpec& spec, bool verbose);
  Result<std::string> pull_image(const v1::PullImageRequest& req);
  Status remove_image(const v1::ImageSpec& spec);
  Result<v1::ImageFsInfoResponse> image_fs_info();
  Result<std::vector<images::Image>> import_image(const std::string& path);

  // Runtime (status.cpp)
  v1::StatusResponse status(bool verbose);
  v1::VersionResponse version();
  v1::RuntimeConfigResponse runtime_config();

  // Brings records in line with the processes that survived (recovery.cpp).
  Status recover();

 private:
  explicit CriRuntime(const CriConfig& config);

  using SandboxEntry = SandboxStore::EntryPtr;
  using ContainerEntry = ContainerStore::EntryPtr;

  // sandbox.cpp
  Result<std::string> create_sandbox(const v1::PodSandboxConfig& config, const std::string& handler,
                                     const std::string& digest);
  Status setup_sandbox(const SandboxEntry& e);
  Status teardown_sandbox(const SandboxEntry& e);  // stops pause, network, shm; idempotent
  // Teardown, then the pod's cgroups, files and record; stops at the first
  // failure and keeps the record, so that a later remove or restart retries.
  Status destroy_sandbox(const SandboxEntry& e);
  Status write_sandbox_files(const SandboxRecord& r);
  static cni::Attachment attachment_of(const SandboxRecord& r);
  // Releases the network of pods no sandbox record names (spec 1.1 GC, or DEL
  // from the kept ADD results), so leases leaked across a crash come back.
  void collect_network_garbage();
  std::vector<ContainerEntry> containers_of(const std::string& sandbox_id) const;

  // container.cpp
  Status setup_container(const ContainerEntry& e, const SandboxRecord& sandbox, const images::Image& image);
  Status destroy_container(const ContainerRecord& r);  // runtime state, mounts, files
  Status stop_container_locked(const ContainerEntry& e, int64_t timeout_seconds);
  // Kills, destroys and forgets a container and frees its name (lifecycle lock held).
  Status remove_container_locked(const ContainerEntry& e);
  // Reads the exit record into the entry when the container has exited.
  void refresh_container(const ContainerEntry& e);
  ContainerState container_state(const ContainerEntry& e);

  CriConfig config_;
  std::unique_ptr<images::ImageStore> images_;
  std::unique_ptr<images::ImagePuller> puller_;
  std::unique_ptr<runtime::CgroupDriver> cgroups_;
  std::unique_ptr<runtime::OciRuntime> oci_;
  std::unique_ptr<cni::CniInvoker> cni_;
  SandboxStore sandboxes_;
  ContainerStore containers_;

  // Sandbox names (namespace/name/uid/attempt) and container names
  // (sandbox/name/attempt) in use, so a retried RunPodSandbox finds the first
  // call's sandbox and a conflicting one is refused.
  // A failed call erases its reservation, so callers waiting on it retry.
  struct Reservation {
    std::string id;
    std::string digest;
    bool done = false;  // the first call finished and made sandbox id
  };
  std::mutex names_mu_;
  std::condition_variable names_cv_;
  std::map<std::string, Reservation> sandbox_names_;
  std::map<std::string, std::string> container_names_;  // key -> container id
};

// Whether labels hold every key=value of selector.
bool labels_match(const google::protobuf::Map<std::string, std::string>& selector,
                  const google::protobuf::Map<std::string, std::string>& labels);

// The key a sandbox name is reserved under.
std::string sandbox_name_key(const v1::PodSandboxMetadata& m);
std::string container_name_key(const std::string& sandbox_id, const v1::ContainerMetadata& m);


}  // namespace deckhand::cri
