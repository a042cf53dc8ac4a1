// The gRPC edge: requests in, Results out, errors mapped to gRPC codes.
// No logic lives here that a test of CriRuntime cannot reach.
#include "grpc_services.h"

#include "deckhand/common/log.h"
#include "deckhand/cri/client.h"

namespace deckhand::cri {

namespace {

grpc::Status to_grpc(const Error& e, const char* rpc) {
  log::get("cri")->debug("{}: {}", rpc, e.message);
  return grpc::Status(static_cast<grpc::StatusCode>(grpc_code_from_kind(e.kind)), e.message);
}

grpc::Status ok_or(const Status& st, const char* rpc) { return st ? grpc::Status::OK : to_grpc(st.error(), rpc); }

template <typename T, typename Out>
grpc::Status assign(Result<T>&& r, Out* out, const char* rpc) {
  if (!r) return to_grpc(r.error(), rpc);
  *out = std::move(*r);
  return grpc::Status::OK;
}

template <typename Vec, typename Repeated>
void fill(Vec&& items, Repeated* out) {
  for (auto& i : items) *out->Add() = std::move(i);
}

}  // namespace

using grpc::ServerContext;

grpc::Status RuntimeServiceImpl::Version(ServerContext*, const v1::VersionRequest*, v1::VersionResponse* resp) {
  *resp = rt_.version();
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::Status(ServerContext*, const v1::StatusRequest* req, v1::StatusResponse* resp) {
  *resp = rt_.status(req->verbose());
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::RuntimeConfig(ServerContext*, const v1::RuntimeConfigRequest*,
                                               v1::RuntimeConfigResponse* resp) {
  *resp = rt_.runtime_config();
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::UpdateRuntimeConfig(ServerContext*, const v1::UpdateRuntimeConfigRequest*,
                                                     v1::UpdateRuntimeConfigResponse*) {
  // The pod CIDR comes from the CNI config on this node; nothing to change.
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::RunPodSandbox(ServerContext*, const v1::RunPodSandboxRequest* req,
                                               v1::RunPodSandboxResponse* resp) {
  auto id = rt_.run_pod_sandbox(req->config(), req->runtime_handler());
  if (!id) return to_grpc(id.error(), "RunPodSandbox");
  resp->set_pod_sandbox_id(*id);
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::StopPodSandbox(ServerContext*, const v1::StopPodSandboxRequest* req,
                                                v1::StopPodSandboxResponse*) {
  return ok_or(rt_.stop_pod_sandbox(req->pod_sandbox_id()), "StopPodSandbox");
}

grpc::Status RuntimeServiceImpl::RemovePodSandbox(ServerContext*, const v1::RemovePodSandboxRequest* req,
                                                  v1::RemovePodSandboxResponse*) {
  return ok_or(rt_.remove_pod_sandbox(req->pod_sandbox_id()), "RemovePodSandbox");
}

grpc::Status RuntimeServiceImpl::PodSandboxStatus(ServerContext*, const v1::PodSandboxStatusRequest* req,
                                                  v1::PodSandboxStatusResponse* resp) {
  return assign(rt_.pod_sandbox_status(req->pod_sandbox_id(), req->verbose()), resp, "PodSandboxStatus");
}

grpc::Status RuntimeServiceImpl::ListPodSandbox(ServerContext*, const v1::ListPodSandboxRequest* req,
                                                v1::ListPodSandboxResponse* resp) {
  fill(rt_.list_pod_sandbox(req->filter()), resp->mutable_items());
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::CreateContainer(ServerContext*, const v1::CreateContainerRequest* req,
                                                 v1::CreateContainerResponse* resp) {
  auto id = rt_.create_container(req->pod_sandbox_id(), req->config());
  if (!id) return to_grpc(id.error(), "CreateContainer");
  resp->set_container_id(*id);
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::StartContainer(ServerContext*, const v1::StartContainerRequest* req,
                                                v1::StartContainerResponse*) {
  return ok_or(rt_.start_container(req->container_id()), "StartContainer");
}

grpc::Status RuntimeServiceImpl::StopContainer(ServerContext*, const v1::StopContainerRequest* req,
                                               v1::StopContainerResponse*) {
  return ok_or(rt_.stop_container(req->container_id(), req->timeout()), "StopContainer");
}

grpc::Status RuntimeServiceImpl::RemoveContainer(ServerContext*, const v1::RemoveContainerRequest* req,
                                                 v1::RemoveContainerResponse*) {
  return ok_or(rt_.remove_container(req->container_id()), "RemoveContainer");
}

grpc::Status RuntimeServiceImpl::ListContainers(ServerContext*, const v1::ListContainersRequest* req,
                                                v1::ListContainersResponse* resp) {
  fill(rt_.list_containers(req->filter()), resp->mutable_containers());
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::ContainerStatus(ServerContext*, const v1::ContainerStatusRequest* req,
                                                 v1::ContainerStatusResponse* resp) {
  return assign(rt_.container_status(req->container_id(), req->verbose()), resp, "ContainerStatus");
}

grpc::Status RuntimeServiceImpl::UpdateContainerResources(ServerContext*,
                                                          const v1::UpdateContainerResourcesRequest* req,
                                                          v1::UpdateContainerResourcesResponse*) {
  return ok_or(rt_.update_container_resources(req->container_id(), req->linux()), "UpdateContainerResources");
}

grpc::Status RuntimeServiceImpl::ReopenContainerLog(ServerContext*, const v1::ReopenContainerLogRequest* req,
                                                    v1::ReopenContainerLogResponse*) {
  return ok_or(rt_.reopen_container_log(req->container_id()), "ReopenContainerLog");
}

grpc::Status RuntimeServiceImpl::ExecSync(ServerContext*, const v1::ExecSyncRequest* req,
                                          v1::ExecSyncResponse* resp) {
  return assign(rt_.exec_sync(*req), resp, "ExecSync");
}

static grpc::Status streaming_unimplemented(const char* rpc) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      std::string(rpc) + " is not implemented yet: streaming (SPDY/websocket) comes in a later "
                                         "release; use ExecSync (crictl exec -s)");
}

grpc::Status RuntimeServiceImpl::Exec(ServerContext*, const v1::ExecRequest*, v1::ExecResponse*) {
  return streaming_unimplemented("Exec");
}
grpc::Status RuntimeServiceImpl::Attach(ServerContext*, const v1::AttachRequest*, v1::AttachResponse*) {
  return streaming_unimplemented("Attach");
}
grpc::Status RuntimeServiceImpl::PortForward(ServerContext*, const v1::PortForwardRequest*, v1::PortForwardResponse*) {
  return streaming_unimplemented("PortForward");
}

grpc::Status RuntimeServiceImpl::ContainerStats(ServerContext*, const v1::ContainerStatsRequest* req,
                                                v1::ContainerStatsResponse* resp) {
  auto s = rt_.container_stats(req->container_id());
  if (!s) return to_grpc(s.error(), "ContainerStats");
  *resp->mutable_stats() = std::move(*s);
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::ListContainerStats(ServerContext*, const v1::ListContainerStatsRequest* req,
                                                    v1::ListContainerStatsResponse* resp) {
  fill(rt_.list_container_stats(req->filter()), resp->mutable_stats());
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::PodSandboxStats(ServerContext*, const v1::PodSandboxStatsRequest* req,
                                                 v1::PodSandboxStatsResponse* resp) {
  auto s = rt_.pod_sandbox_stats(req->pod_sandbox_id());
  if (!s) return to_grpc(s.error(), "PodSandboxStats");
  *resp->mutable_stats() = std::move(*s);
  return grpc::Status::OK;
}

grpc::Status RuntimeServiceImpl::ListPodSandboxStats(ServerContext*, const v1::ListPodSandboxStatsRequest* req,
                                                     v1::ListPodSandboxStatsResponse* resp) {
  fill(rt_.list_pod_sandbox_stats(req->filter()), resp->mutable_stats());
  return grpc::Status::OK;
}

grpc::Status ImageServiceImpl::ListImages(ServerContext*, const v1::ListImagesRequest* req,
                                          v1::ListImagesResponse* resp) {
  fill(rt_.list_images(req->filter()), resp->mutable_images());
  return grpc::Status::OK;
}

grpc::Status ImageServiceImpl::ImageStatus(ServerContext*, const v1::ImageStatusRequest* req,
                                           v1::ImageStatusResponse* resp) {
  return assign(rt_.image_status(req->image(), req->verbose()), resp, "ImageStatus");
}

grpc::Status ImageServiceImpl::PullImage(ServerContext*, const v1::PullImageRequest* req,
                                         v1::PullImageResponse* resp) {
  auto ref = rt_.pull_image(*req);
  if (!ref) return to_grpc(ref.error(), "PullImage");
  resp->set_image_ref(*ref);
  return grpc::Status::OK;
}

grpc::Status ImageServiceImpl::RemoveImage(ServerContext*, const v1::RemoveImageRequest* req,
                                           v1::RemoveImageResponse*) {
  return ok_or(rt_.remove_image(req->image()), "RemoveImage");
}

grpc::Status ImageServiceImpl::ImageFsInfo(ServerContext*, const v1::ImageFsInfoRequest*,
                                           v1::ImageFsInfoResponse* resp) {
  return assign(rt_.image_fs_info(), resp, "ImageFsInfo");
}

grpc::Status ImageImportImpl::Import(ServerContext*, const deckhand::api::v1::ImportRequest* req,
                                     deckhand::api::v1::ImportResponse* resp) {
  auto imported = rt_.import_image(req->path());
  if (!imported) return to_grpc(imported.error(), "Import");
  for (auto& img : *imported) {
    auto* out = resp->add_images();
    out->set_id(img.id);
    for (auto& t : img.repo_tags) out->add_repo_tags(t);
    for (auto& d : img.repo_digests) out->add_repo_digests(d);
  }
  return grpc::Status::OK;
}

}  // namespace deckhand::cri
