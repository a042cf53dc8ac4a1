// A CRI client over gRPC on a unix socket: what deckhandctl, the tests, the
// benchmark and (later) deckhand-agent use to talk to any CRI runtime
// (deckhand-cri or containerd). gRPC failures come back as Error values whose
// message carries the gRPC code name and the server's message.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "deckhand/common/result.h"
#include "deckhand/cri/grpc_status.h"
#include "deckhand_images.grpc.pb.h"
#include "runtime.grpc.pb.h"

namespace deckhand::cri {

// kind_from_grpc() and grpc_code_from_kind() are in grpc_status.h.

// "unix:///run/x.sock", "unix:/run/x.sock" or "/run/x.sock" -> "/run/x.sock";
// InvalidArgument for other schemes (we only speak over unix sockets).
Result<std::string> socket_path_from_endpoint(const std::string& endpoint);

class CriClient {
 public:
  // endpoint: "unix:///run/deckhand/cri.sock" or a plain socket path.
  static Result<std::unique_ptr<CriClient>> connect(const std::string& endpoint,
                                                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Per-call deadline (default 2 minutes; pulls and stops may take long).
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  const std::string& endpoint() const { return endpoint_; }

  Result<::runtime::v1::VersionResponse> version();
  Result<::runtime::v1::StatusResponse> status(bool verbose);

  Result<std::string> run_pod_sandbox(const ::runtime::v1::PodSandboxConfig& config,
                                      const std::string& runtime_handler = "");
  Status stop_pod_sandbox(const std::string& id);
  Status remove_pod_sandbox(const std::string& id);
  Result<::runtime::v1::PodSandboxStatusResponse> pod_sandbox_status(const std::string& id, bool verbose);
  Result<std::vector<::runtime::v1::PodSandbox>> list_pod_sandbox(const ::runtime::v1::PodSandboxFilter& filter = {});

  Result<std::string> create_container(const std::string& pod_id, const ::runtime::v1::ContainerConfig& config,
                                       const ::runtime::v1::PodSandboxConfig& sandbox_config);
  Status start_container(const std::string& id);
  Status stop_container(const std::string& id, int64_t timeout_seconds);
  Status remove_container(const std::string& id);
  Result<::runtime::v1::ContainerStatusResponse> container_status(const std::string& id, bool verbose);
  Result<std::vector<::runtime::v1::Container>> list_containers(const ::runtime::v1::ContainerFilter& filter = {});
  Result<::runtime::v1::ExecSyncResponse> exec_sync(const std::string& id, const std::vector<std::string>& cmd,
                                                  int64_t timeout_seconds);
  Status reopen_container_log(const std::string& id);
  Status update_container_resources(const std::string& id, const ::runtime::v1::LinuxContainerResources& r);
  Result<::runtime::v1::ContainerStats> container_stats(const std::string& id);
  Result<std::vector<::runtime::v1::ContainerStats>> list_container_stats(
      const ::runtime::v1::ContainerStatsFilter& filter = {});
  Result<::runtime::v1::PodSandboxStats> pod_sandbox_stats(const std::string& id);
  Result<std::vector<::runtime::v1::PodSandboxStats>> list_pod_sandbox_stats(
      const ::runtime::v1::PodSandboxStatsFilter& filter = {});

  Result<std::vector<::runtime::v1::Image>> list_images(const ::runtime::v1::ImageFilter& filter = {});
  // nullopt-like: an Image with an empty id when the image is not present (as CRI says).
  Result<::runtime::v1::ImageStatusResponse> image_status(const std::string& ref, bool verbose);
  Result<std::string> pull_image(const std::string& ref, const ::runtime::v1::AuthConfig& auth = {},
                                 const ::runtime::v1::PodSandboxConfig* sandbox = nullptr);
  Status remove_image(const std::string& ref);
  Result<::runtime::v1::ImageFsInfoResponse> image_fs_info();
  // deckhand's own ImageImport service: path is read by the daemon.
  Result<std::vector<deckhand::api::v1::ImportedImage>> import_image(const std::string& path);

  ::runtime::v1::RuntimeService::Stub& runtime_stub() { return *runtime_; }
  ::runtime::v1::ImageService::Stub& image_stub() { return *image_; }

 private:
  CriClient() = default;
  // Runs one unary RPC with the per-call deadline; rpc(context, request,
  // response) does the call. Failures become Error{kind, "<name>: <code>: <message>"}.
  template <typename Response, typename Request, typename Rpc>
  Result<Response> call(const char* name, const Request& request, Rpc&& rpc);

  std::string endpoint_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::runtime::v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<::runtime::v1::ImageService::Stub> image_;
  std::unique_ptr<deckhand::api::v1::ImageImport::Stub> import_;
  std::chrono::milliseconds timeout_{std::chrono::minutes(2)};
};

}  // namespace deckhand::cri
