#include "deckhand/cri/client.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include "deckhand/common/log.h"

namespace deckhand::cri {
namespace rt = ::runtime::v1;

namespace {

// Images with many layers and long lists (ListContainers on a busy node)
// exceed gRPC's 4 MiB default; crictl allows 16 MiB too.
constexpr int kMaxMessageBytes = 16 * 1024 * 1024;
constexpr size_t kMaxLoggedChars = 4000;

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("cri-client");
  return l;
}

std::string debug_text(const google::protobuf::Message& m) {
  std::string s = m.ShortDebugString();
  if (s.size() > kMaxLoggedChars) s = s.substr(0, kMaxLoggedChars) + "...";
  return s;
}

// Registry credentials must not end up in debug logs.
std::string debug_text(const rt::PullImageRequest& m) {
  rt::PullImageRequest copy = m;
  if (copy.has_auth()) copy.mutable_auth()->Clear();
  return debug_text(static_cast<const google::protobuf::Message&>(copy));
}

Error error_from_status(const char* rpc, const grpc::Status& s) {
  int code = static_cast<int>(s.error_code());
  return Error{kind_from_grpc(code), 0,
               fmt::format("{}: {}: {}", rpc, grpc_code_name(code), s.error_message())};
}

}  // namespace

Result<std::string> socket_path_from_endpoint(const std::string& endpoint) {
  std::string_view e = endpoint;
  if (e.starts_with("unix://")) {
    e.remove_prefix(7);
  } else if (e.starts_with("unix:")) {
    e.remove_prefix(5);
  } else if (e.find("://") != std::string_view::npos) {
    return fail(ErrorKind::InvalidArgument, "endpoint {}: only unix sockets are supported", endpoint);
  }
  if (e.empty()) return fail(ErrorKind::InvalidArgument, "endpoint {}: no socket path", endpoint);
  return std::string(e);
}

Result<std::unique_ptr<CriClient>> CriClient::connect(const std::string& endpoint,
                                                      std::chrono::milliseconds timeout) {
  DH_TRY(path, socket_path_from_endpoint(endpoint));
  // A missing socket means the runtime is not running: say so now instead of
  // letting gRPC retry until the timeout runs out.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return fail(ErrorKind::Unavailable, "connect {}: {} (is the runtime running?)", endpoint,
                errno_text(errno));
  if (!S_ISSOCK(st.st_mode))
    return fail(ErrorKind::Unavailable, "connect {}: {} is not a socket", endpoint, path);

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  auto channel = grpc::CreateCustomChannel("unix:" + path, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + timeout))
    return fail(ErrorKind::Unavailable, "connect {}: no connection within {} ms", endpoint, timeout.count());

  std::unique_ptr<CriClient> c(new CriClient());
  c->endpoint_ = endpoint;
  c->channel_ = channel;
  c->runtime_ = rt::RuntimeService::NewStub(channel);
  c->image_ = rt::ImageService::NewStub(channel);
  c->import_ = deckhand::api::v1::ImageImport::NewStub(channel);
  logger()->debug("connected to {}", endpoint);
  return c;
}

template <typename Response, typename Request, typename Rpc>
Result<Response> CriClient::call(const char* name, const Request& request, Rpc&& rpc) {
  auto log = logger();
  if (log->should_log(spdlog::level::debug)) log->debug("{} request: {}", name, debug_text(request));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  Response response;
  grpc::Status s = rpc(&ctx, request, &response);
  if (!s.ok()) {
    Error e = error_from_status(name, s);
    log->debug("{} failed: {}", name, e.message);
    return tl::unexpected(std::move(e));
  }
  if (log->should_log(spdlog::level::debug)) log->debug("{} response: {}", name, debug_text(response));
  return response;
}

// The stubs' methods, as callables for call().
#define DH_RUNTIME_RPC(Method) \
  [this](auto* ctx, const auto& rpc_req, auto* rpc_resp) { return runtime_->Method(ctx, rpc_req, rpc_resp); }
#define DH_IMAGE_RPC(Method) \
  [this](auto* ctx, const auto& rpc_req, auto* rpc_resp) { return image_->Method(ctx, rpc_req, rpc_resp); }

Result<rt::VersionResponse> CriClient::version() {
  rt::VersionRequest req;
  req.set_version("v1");
  return call<rt::VersionResponse>("Version", req, DH_RUNTIME_RPC(Version));
}

Result<rt::StatusResponse> CriClient::status(bool verbose) {
  rt::StatusRequest req;
  req.set_verbose(verbose);
  return call<rt::StatusResponse>("Status", req, DH_RUNTIME_RPC(Status));
}

Result<std::string> CriClient::run_pod_sandbox(const rt::PodSandboxConfig& config,
                                               const std::string& runtime_handler) {
  rt::RunPodSandboxRequest req;
  *req.mutable_config() = config;
  req.set_runtime_handler(runtime_handler);
  DH_TRY(resp, call<rt::RunPodSandboxResponse>("RunPodSandbox", req, DH_RUNTIME_RPC(RunPodSandbox)));
  return resp.pod_sandbox_id();
}

Status CriClient::stop_pod_sandbox(const std::string& id) {
  rt::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  DH_CHECK(call<rt::StopPodSandboxResponse>("StopPodSandbox", req, DH_RUNTIME_RPC(StopPodSandbox)));
  return {};
}

Status CriClient::remove_pod_sandbox(const std::string& id) {
  rt::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  DH_CHECK(call<rt::RemovePodSandboxResponse>("RemovePodSandbox", req, DH_RUNTIME_RPC(RemovePodSandbox)));
  return {};
}

Result<rt::PodSandboxStatusResponse> CriClient::pod_sandbox_status(const std::string& id, bool verbose) {
  rt::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(id);
  req.set_verbose(verbose);
  return call<rt::PodSandboxStatusResponse>("PodSandboxStatus", req, DH_RUNTIME_RPC(PodSandboxStatus));
}

Result<std::vector<rt::PodSandbox>> CriClient::list_pod_sandbox(const rt::PodSandboxFilter& filter) {
  rt::ListPodSandboxRequest req;
  *req.mutable_filter() = filter;
  DH_TRY(resp, call<rt::ListPodSandboxResponse>("ListPodSandbox", req, DH_RUNTIME_RPC(ListPodSandbox)));
  return std::vector<rt::PodSandbox>(resp.items().begin(), resp.items().end());
}

Result<std::string> CriClient::create_container(const std::string& pod_id, const rt::ContainerConfig& config,
                                                const rt::PodSandboxConfig& sandbox_config) {
  rt::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod_id);
  *req.mutable_config() = config;
  *req.mutable_sandbox_config() = sandbox_config;
  DH_TRY(resp, call<rt::CreateContainerResponse>("CreateContainer", req, DH_RUNTIME_RPC(CreateContainer)));
  return resp.container_id();
}

Status CriClient::start_container(const std::string& id) {
  rt::StartContainerRequest req;
  req.set_container_id(id);
  DH_CHECK(call<rt::StartContainerResponse>("StartContainer", req, DH_RUNTIME_RPC(StartContainer)));
  return {};
}

Status CriClient::stop_container(const std::string& id, int64_t timeout_seconds) {
  rt::StopContainerRequest req;
  req.set_container_id(id);
  req.set_timeout(timeout_seconds);
  DH_CHECK(call<rt::StopContainerResponse>("StopContainer", req, DH_RUNTIME_RPC(StopContainer)));
  return {};
}

Status CriClient::remove_container(const std::string& id) {
  rt::RemoveContainerRequest req;
  req.set_container_id(id);
  DH_CHECK(call<rt::RemoveContainerResponse>("RemoveContainer", req, DH_RUNTIME_RPC(RemoveContainer)));
  return {};
}

Result<rt::ContainerStatusResponse> CriClient::container_status(const std::string& id, bool verbose) {
  rt::ContainerStatusRequest req;
  req.set_container_id(id);
  req.set_verbose(verbose);
  return call<rt::ContainerStatusResponse>("ContainerStatus", req, DH_RUNTIME_RPC(ContainerStatus));
}

Result<std::vector<rt::Container>> CriClient::list_containers(const rt::ContainerFilter& filter) {
  rt::ListContainersRequest req;
  *req.mutable_filter() = filter;
  DH_TRY(resp, call<rt::ListContainersResponse>("ListContainers", req, DH_RUNTIME_RPC(ListContainers)));
  return std::vector<rt::Container>(resp.containers().begin(), resp.containers().end());
}

Result<rt::ExecSyncResponse> CriClient::exec_sync(const std::string& id, const std::vector<std::string>& cmd,
                                                  int64_t timeout_seconds) {
  rt::ExecSyncRequest req;
  req.set_container_id(id);
  for (const auto& c : cmd) req.add_cmd(c);
  req.set_timeout(timeout_seconds);
  return call<rt::ExecSyncResponse>("ExecSync", req, DH_RUNTIME_RPC(ExecSync));
}

Status CriClient::reopen_container_log(const std::string& id) {
  rt::ReopenContainerLogRequest req;
  req.set_container_id(id);
  DH_CHECK(
      call<rt::ReopenContainerLogResponse>("ReopenContainerLog", req, DH_RUNTIME_RPC(ReopenContainerLog)));
  return {};
}

Status CriClient::update_container_resources(const std::string& id, const rt::LinuxContainerResources& r) {
  rt::UpdateContainerResourcesRequest req;
  req.set_container_id(id);
  *req.mutable_linux() = r;
  DH_CHECK(call<rt::UpdateContainerResourcesResponse>("UpdateContainerResources", req,
                                                      DH_RUNTIME_RPC(UpdateContainerResources)));
  return {};
}

Result<rt::ContainerStats> CriClient::container_stats(const std::string& id) {
  rt::ContainerStatsRequest req;
  req.set_container_id(id);
  DH_TRY(resp, call<rt::ContainerStatsResponse>("ContainerStats", req, DH_RUNTIME_RPC(ContainerStats)));
  return resp.stats();
}

Result<std::vector<rt::ContainerStats>> CriClient::list_container_stats(
    const rt::ContainerStatsFilter& filter) {
  rt::ListContainerStatsRequest req;
  *req.mutable_filter() = filter;
  DH_TRY(resp,
         call<rt::ListContainerStatsResponse>("ListContainerStats", req, DH_RUNTIME_RPC(ListContainerStats)));
  return std::vector<rt::ContainerStats>(resp.stats().begin(), resp.stats().end());
}

Result<rt::PodSandboxStats> CriClient::pod_sandbox_stats(const std::string& id) {
  rt::PodSandboxStatsRequest req;
  req.set_pod_sandbox_id(id);
  DH_TRY(resp, call<rt::PodSandboxStatsResponse>("PodSandboxStats", req, DH_RUNTIME_RPC(PodSandboxStats)));
  return resp.stats();
}

Result<std::vector<rt::PodSandboxStats>> CriClient::list_pod_sandbox_stats(
    const rt::PodSandboxStatsFilter& filter) {
  rt::ListPodSandboxStatsRequest req;
  *req.mutable_filter() = filter;
  DH_TRY(resp, call<rt::ListPodSandboxStatsResponse>("ListPodSandboxStats", req,
                                                     DH_RUNTIME_RPC(ListPodSandboxStats)));
  return std::vector<rt::PodSandboxStats>(resp.stats().begin(), resp.stats().end());
}

Result<std::vector<rt::Image>> CriClient::list_images(const rt::ImageFilter& filter) {
  rt::ListImagesRequest req;
  *req.mutable_filter() = filter;
  DH_TRY(resp, call<rt::ListImagesResponse>("ListImages", req, DH_IMAGE_RPC(ListImages)));
  return std::vector<rt::Image>(resp.images().begin(), resp.images().end());
}

Result<rt::ImageStatusResponse> CriClient::image_status(const std::string& ref, bool verbose) {
  rt::ImageStatusRequest req;
  req.mutable_image()->set_image(ref);
  req.set_verbose(verbose);
  return call<rt::ImageStatusResponse>("ImageStatus", req, DH_IMAGE_RPC(ImageStatus));
}

Result<std::string> CriClient::pull_image(const std::string& ref, const rt::AuthConfig& auth,
                                          const rt::PodSandboxConfig* sandbox) {
  rt::PullImageRequest req;
  req.mutable_image()->set_image(ref);
  *req.mutable_auth() = auth;
  if (sandbox) *req.mutable_sandbox_config() = *sandbox;
  DH_TRY(resp, call<rt::PullImageResponse>("PullImage", req, DH_IMAGE_RPC(PullImage)));
  return resp.image_ref();
}

Status CriClient::remove_image(const std::string& ref) {
  rt::RemoveImageRequest req;
  req.mutable_image()->set_image(ref);
  DH_CHECK(call<rt::RemoveImageResponse>("RemoveImage", req, DH_IMAGE_RPC(RemoveImage)));
  return {};
}

Result<rt::ImageFsInfoResponse> CriClient::image_fs_info() {
  return call<rt::ImageFsInfoResponse>("ImageFsInfo", rt::ImageFsInfoRequest{}, DH_IMAGE_RPC(ImageFsInfo));
}

Result<std::vector<deckhand::api::v1::ImportedImage>> CriClient::import_image(const std::string& path) {
  deckhand::api::v1::ImportRequest req;
  req.set_path(path);
  DH_TRY(resp,
         call<deckhand::api::v1::ImportResponse>("Import", req, [this](auto* ctx, const auto& r, auto* out) {
           return import_->Import(ctx, r, out);
         }));
  return std::vector<deckhand::api::v1::ImportedImage>(resp.images().begin(), resp.images().end());
}

#undef DH_RUNTIME_RPC
#undef DH_IMAGE_RPC

}  // namespace deckhand::cri
