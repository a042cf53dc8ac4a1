// gRPC service classes over CriRuntime.
#pragma once

#include "cri_runtime.h"
#include "deckhand_images.grpc.pb.h"
#include "runtime.grpc.pb.h"

namespace deckhand::cri {

class RuntimeServiceImpl final : public ::runtime::v1::RuntimeService::Service {
 public:
  explicit RuntimeServiceImpl(CriRuntime& rt) : rt_(rt) {}
  using Ctx = grpc::ServerContext;
  grpc::Status Version(Ctx*, const v1::VersionRequest*, v1::VersionResponse*) override;
  grpc::Status Status(Ctx*, const v1::StatusRequest*, v1::StatusResponse*) override;
  grpc::Status RuntimeConfig(Ctx*, const v1::RuntimeConfigRequest*, v1::RuntimeConfigResponse*) override;
  grpc::Status UpdateRuntimeConfig(Ctx*, const v1::UpdateRuntimeConfigRequest*, v1::UpdateRuntimeConfigResponse*) override;
  grpc::Status RunPodSandbox(Ctx*, const v1::RunPodSandboxRequest*, v1::RunPodSandboxResponse*) override;
  grpc::Status StopPodSandbox(Ctx*, const v1::StopPodSandboxRequest*, v1::StopPodSandboxResponse*) override;
  grpc::Status RemovePodSandbox(Ctx*, const v1::RemovePodSandboxRequest*, v1::RemovePodSandboxResponse*) override;
  grpc::Status PodSandboxStatus(Ctx*, const v1::PodSandboxStatusRequest*, v1::PodSandboxStatusResponse*) override;
  grpc::Status ListPodSandbox(Ctx*, const v1::ListPodSandboxRequest*, v1::ListPodSandboxResponse*) override;
  grpc::Status CreateContainer(Ctx*, const v1::CreateContainerRequest*, v1::CreateContainerResponse*) override;
  grpc::Status StartContainer(Ctx*, const v1::StartContainerRequest*, v1::StartContainerResponse*) override;
  grpc::Status StopContainer(Ctx*, const v1::StopContainerRequest*, v1::StopContainerResponse*) override;
  grpc::Status RemoveContainer(Ctx*, const v1::RemoveContainerRequest*, v1::RemoveContainerResponse*) override;
  grpc::Status ListContainers(Ctx*, const v1::ListContainersRequest*, v1::ListContainersResponse*) override;
  grpc::Status ContainerStatus(Ctx*, const v1::ContainerStatusRequest*, v1::ContainerStatusResponse*) override;
  grpc::Status UpdateContainerResources(Ctx*, const v1::UpdateContainerResourcesRequest*,
                                        v1::UpdateContainerResourcesResponse*) override;
  grpc::Status ReopenContainerLog(Ctx*, const v1::ReopenContainerLogRequest*, v1::ReopenContainerLogResponse*) override;
  grpc::Status ExecSync(Ctx*, const v1::ExecSyncRequest*, v1::ExecSyncResponse*) override;
  grpc::Status Exec(Ctx*, const v1::ExecRequest*, v1::ExecResponse*) override;
  grpc::Status Attach(Ctx*, const v1::AttachRequest*, v1::AttachResponse*) override;
  grpc::Status PortForward(Ctx*, const v1::PortForwardRequest*, v1::PortForwardResponse*) override;
  grpc::Status ContainerStats(Ctx*, const v1::ContainerStatsRequest*, v1::ContainerStatsResponse*) override;
  grpc::Status ListContainerStats(Ctx*, const v1::ListContainerStatsRequest*, v1::ListContainerStatsResponse*) override;
  grpc::Status PodSandboxStats(Ctx*, const v1::PodSandboxStatsRequest*, v1::PodSandboxStatsResponse*) override;
  grpc::Status ListPodSandboxStats(Ctx*, const v1::ListPodSandboxStatsRequest*,
                                   v1::ListPodSandboxStatsResponse*) override;

 private:
  CriRuntime& rt_;
};

class ImageServiceImpl final : public ::runtime::v1::ImageService::Service {
 public:
  explicit ImageServiceImpl(CriRuntime& rt) : rt_(rt) {}
  using Ctx = grpc::ServerContext;
  grpc::Status ListImages(Ctx*, const v1::ListImagesRequest*, v1::ListImagesResponse*) override;
  grpc::Status ImageStatus(Ctx*, const v1::ImageStatusRequest*, v1::ImageStatusResponse*) override;
  grpc::Status PullImage(Ctx*, const v1::PullImageRequest*, v1::PullImageResponse*) override;
  grpc::Status RemoveImage(Ctx*, const v1::RemoveImageRequest*, v1::RemoveImageResponse*) override;
  grpc::Status ImageFsInfo(Ctx*, const v1::ImageFsInfoRequest*, v1::ImageFsInfoResponse*) override;

 private:
  CriRuntime& rt_;
};

class ImageImportImpl final : public ::deckhand::api::v1::ImageImport::Service {
 public:
  explicit ImageImportImpl(CriRuntime& rt) : rt_(rt) {}
  grpc::Status Import(grpc::ServerContext*, const ::deckhand::api::v1::ImportRequest*,
                      ::deckhand::api::v1::ImportResponse*) override;

 private:
  CriRuntime& rt_;
};

}  // namespace deckhand::cri
