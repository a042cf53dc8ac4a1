#include "fake_cri_server.h"

#include <chrono>
#include <thread>

namespace deckhand::test {
namespace rt = ::runtime::v1;
using grpc::ServerContext;
using grpc::StatusCode;

namespace {

int64_t ago_ns(std::chrono::seconds s) {
  auto t = std::chrono::system_clock::now() - s;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

grpc::Status not_found(const std::string& what, const std::string& id) {
  return grpc::Status(StatusCode::NOT_FOUND, what + " " + id + " not found");
}

rt::PodSandbox canned_pod(bool web) {
  rt::PodSandbox p;
  p.set_id(web ? kWebPodId : kDbPodId);
  p.mutable_metadata()->set_name(web ? "web" : "db");
  p.mutable_metadata()->set_namespace_(web ? "default" : "prod");
  p.mutable_metadata()->set_uid(web ? "uid-web" : "uid-db");
  p.mutable_metadata()->set_attempt(web ? 0 : 1);
  p.set_state(web ? rt::SANDBOX_READY : rt::SANDBOX_NOTREADY);
  p.set_created_at(ago_ns(web ? std::chrono::seconds(90) : std::chrono::hours(2)));
  if (!web) p.set_runtime_handler("runc");
  return p;
}

rt::Container canned_container(bool nginx) {
  rt::Container c;
  c.set_id(nginx ? kNginxId : kJobId);
  c.set_pod_sandbox_id(nginx ? kWebPodId : kDbPodId);
  c.mutable_metadata()->set_name(nginx ? "nginx" : "job");
  c.mutable_metadata()->set_attempt(nginx ? 2 : 0);
  c.mutable_image()->set_image(nginx ? kNginxImage : "docker.io/library/busybox:latest");
  c.set_state(nginx ? rt::CONTAINER_RUNNING : rt::CONTAINER_EXITED);
  c.set_created_at(ago_ns(std::chrono::seconds(nginx ? 5 : 600)));
  if (!nginx) (*c.mutable_labels())["io.kubernetes.pod.name"] = "db-pod";
  return c;
}

// Cumulative CPU use of half a core: sample n is at n seconds with n/2 s used.
void fill_cpu(rt::CpuUsage* cpu, int n, bool frozen) {
  cpu->set_timestamp(frozen ? 1'000'000'000 : int64_t{n} * 1'000'000'000);
  cpu->mutable_usage_core_nano_seconds()->set_value(uint64_t(n) * 500'000'000);
}

class FakeRuntime final : public rt::RuntimeService::Service {
 public:
  explicit FakeRuntime(std::shared_ptr<FakeCriState> s) : s_(std::move(s)) {}

  grpc::Status Version(ServerContext*, const rt::VersionRequest*, rt::VersionResponse* r) override {
    r->set_version("0.1.0");
    r->set_runtime_name("fake-cri");
    r->set_runtime_version("1.2.3");
    r->set_runtime_api_version("v1");
    return grpc::Status::OK;
  }

  grpc::Status Status(ServerContext*, const rt::StatusRequest*, rt::StatusResponse* r) override {
    auto* cond = r->mutable_status()->add_conditions();
    cond->set_type("RuntimeReady");
    cond->set_status(true);
    (*r->mutable_info())["config"] = R"({"sandboxImage":"pause"})";
    (*r->mutable_info())["note"] = "plain text";
    return grpc::Status::OK;
  }

  grpc::Status RunPodSandbox(ServerContext*, const rt::RunPodSandboxRequest* q,
                             rt::RunPodSandboxResponse* r) override {
    std::lock_guard lock(s_->mu);
    s_->last_run_pod = *q;
    r->set_pod_sandbox_id("pod-" + q->config().metadata().name());
    return grpc::Status::OK;
  }

  grpc::Status StopPodSandbox(ServerContext*, const rt::StopPodSandboxRequest* q,
                              rt::StopPodSandboxResponse*) override {
    if (q->pod_sandbox_id() == kMissingId) return not_found("pod sandbox", kMissingId);
    record("StopPodSandbox " + q->pod_sandbox_id());
    return grpc::Status::OK;
  }

  grpc::Status RemovePodSandbox(ServerContext*, const rt::RemovePodSandboxRequest* q,
                                rt::RemovePodSandboxResponse*) override {
    record("RemovePodSandbox " + q->pod_sandbox_id());
    return grpc::Status::OK;
  }

  grpc::Status PodSandboxStatus(ServerContext*, const rt::PodSandboxStatusRequest* q,
                                rt::PodSandboxStatusResponse* r) override {
    if (q->pod_sandbox_id() == kMissingId) return not_found("pod sandbox", kMissingId);
    auto p = canned_pod(q->pod_sandbox_id() == kWebPodId);
    r->mutable_status()->set_id(p.id());
    *r->mutable_status()->mutable_metadata() = p.metadata();
    r->mutable_status()->set_state(p.state());
    if (q->verbose()) (*r->mutable_info())["info"] = R"({"pid": 42})";
    return grpc::Status::OK;
  }

  grpc::Status ListPodSandbox(ServerContext*, const rt::ListPodSandboxRequest* q,
                              rt::ListPodSandboxResponse* r) override {
    for (bool web : {true, false}) {
      auto p = canned_pod(web);
      if (q->filter().has_state() && q->filter().state().state() != p.state()) continue;
      if (!q->filter().id().empty() && q->filter().id() != p.id()) continue;
      *r->add_items() = p;
    }
    return grpc::Status::OK;
  }

  grpc::Status CreateContainer(ServerContext*, const rt::CreateContainerRequest* q,
                               rt::CreateContainerResponse* r) override {
    std::lock_guard lock(s_->mu);
    s_->last_create = *q;
    r->set_container_id("ctr-" + q->config().metadata().name());
    return grpc::Status::OK;
  }

  grpc::Status StartContainer(ServerContext*, const rt::StartContainerRequest* q,
                              rt::StartContainerResponse*) override {
    if (q->container_id() == kMissingId) return not_found("container", kMissingId);
    record("StartContainer " + q->container_id());
    return grpc::Status::OK;
  }

  grpc::Status StopContainer(ServerContext*, const rt::StopContainerRequest* q,
                             rt::StopContainerResponse*) override {
    if (q->container_id() == kMissingId) return not_found("container", kMissingId);
    std::lock_guard lock(s_->mu);
    s_->last_stop_timeout = q->timeout();
    s_->calls.push_back("StopContainer " + q->container_id());
    return grpc::Status::OK;
  }

  grpc::Status RemoveContainer(ServerContext*, const rt::RemoveContainerRequest* q,
                               rt::RemoveContainerResponse*) override {
    record("RemoveContainer " + q->container_id());
    return grpc::Status::OK;
  }

  grpc::Status ListContainers(ServerContext*, const rt::ListContainersRequest* q,
                              rt::ListContainersResponse* r) override {
    for (bool nginx : {true, false}) {
      auto c = canned_container(nginx);
      if (q->filter().has_state() && q->filter().state().state() != c.state()) continue;
      *r->add_containers() = c;
    }
    return grpc::Status::OK;
  }

  grpc::Status ContainerStatus(ServerContext*, const rt::ContainerStatusRequest* q,
                               rt::ContainerStatusResponse* r) override {
    if (q->container_id() == kMissingId) return not_found("container", kMissingId);
    std::lock_guard lock(s_->mu);
    auto* st = r->mutable_status();
    st->set_id(q->container_id());
    st->mutable_metadata()->set_name("nginx");
    st->set_state(s_->container_state);
    st->set_log_path(s_->log_path);
    if (q->verbose()) (*r->mutable_info())["info"] = R"({"pid": 4242, "runtimeSpec": {}})";
    return grpc::Status::OK;
  }

  // "sleep" blocks until the client gives up; anything else echoes its
  // command line and exits 3.
  grpc::Status ExecSync(ServerContext* ctx, const rt::ExecSyncRequest* q, rt::ExecSyncResponse* r) override {
    if (q->cmd_size() > 0 && q->cmd(0) == "sleep") {
      for (int i = 0; i < 500 && !ctx->IsCancelled(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return grpc::Status(StatusCode::CANCELLED, "cancelled");
    }
    std::string line;
    for (const auto& c : q->cmd()) line += (line.empty() ? "" : " ") + c;
    r->set_stdout(line + "\n");
    r->set_stderr("to stderr\n");
    r->set_exit_code(3);
    return grpc::Status::OK;
  }

  grpc::Status ListContainerStats(ServerContext*, const rt::ListContainerStatsRequest*,
                                  rt::ListContainerStatsResponse* r) override {
    std::lock_guard lock(s_->mu);
    int n = ++s_->stats_calls;
    auto* st = r->add_stats();
    st->mutable_attributes()->set_id(kNginxId);
    st->mutable_attributes()->mutable_metadata()->set_name("nginx");
    fill_cpu(st->mutable_cpu(), n, s_->freeze_stats);
    st->mutable_memory()->mutable_working_set_bytes()->set_value(2'100'000);
    st->mutable_writable_layer()->mutable_used_bytes()->set_value(4096);
    st->mutable_writable_layer()->mutable_inodes_used()->set_value(12);
    return grpc::Status::OK;
  }

  grpc::Status ListPodSandboxStats(ServerContext*, const rt::ListPodSandboxStatsRequest*,
                                   rt::ListPodSandboxStatsResponse* r) override {
    std::lock_guard lock(s_->mu);
    int n = ++s_->stats_calls;
    auto* st = r->add_stats();
    st->mutable_attributes()->set_id(kWebPodId);
    st->mutable_attributes()->mutable_metadata()->set_name("web");
    fill_cpu(st->mutable_linux()->mutable_cpu(), n, s_->freeze_stats);
    st->mutable_linux()->mutable_memory()->mutable_working_set_bytes()->set_value(31'500'000);
    return grpc::Status::OK;
  }

 private:
  void record(std::string call) {
    std::lock_guard lock(s_->mu);
    s_->calls.push_back(std::move(call));
  }
  std::shared_ptr<FakeCriState> s_;
};

rt::Image busybox_image() {
  rt::Image img;
  img.set_id(kBusyboxId);
  img.add_repo_tags("docker.io/library/busybox:latest");
  img.add_repo_tags("localhost:5000/busybox:1.36");
  img.set_size(2'100'000);
  return img;
}

rt::Image untagged_image() {
  rt::Image img;
  img.set_id("sha256:9999999999999999999999999999999999999999999999999999999999999999");
  img.add_repo_digests("docker.io/library/alpine@sha256:1234");
  img.set_size(512);
  return img;
}

class FakeImages final : public rt::ImageService::Service {
 public:
  explicit FakeImages(std::shared_ptr<FakeCriState> s) : s_(std::move(s)) {}

  grpc::Status ListImages(ServerContext*, const rt::ListImagesRequest*, rt::ListImagesResponse* r) override {
    *r->add_images() = busybox_image();
    *r->add_images() = untagged_image();
    return grpc::Status::OK;
  }

  grpc::Status ImageStatus(ServerContext*, const rt::ImageStatusRequest* q,
                           rt::ImageStatusResponse* r) override {
    // As CRI says: an absent image is no error, just no image.
    if (q->image().image().find("busybox") == std::string::npos) return grpc::Status::OK;
    *r->mutable_image() = busybox_image();
    if (q->verbose()) (*r->mutable_info())["info"] = R"({"chainID": "sha256:0"})";
    return grpc::Status::OK;
  }

  grpc::Status PullImage(ServerContext*, const rt::PullImageRequest* q, rt::PullImageResponse* r) override {
    std::lock_guard lock(s_->mu);
    s_->last_pull = *q;
    r->set_image_ref(kBusyboxId);
    return grpc::Status::OK;
  }

  grpc::Status RemoveImage(ServerContext*, const rt::RemoveImageRequest* q,
                           rt::RemoveImageResponse*) override {
    std::lock_guard lock(s_->mu);
    s_->calls.push_back("RemoveImage " + q->image().image());
    return grpc::Status::OK;
  }

 private:
  std::shared_ptr<FakeCriState> s_;
};

class FakeImport final : public deckhand::api::v1::ImageImport::Service {
 public:
  grpc::Status Import(ServerContext*, const deckhand::api::v1::ImportRequest* q,
                      deckhand::api::v1::ImportResponse* r) override {
    if (q->path().empty() || q->path()[0] != '/')
      return grpc::Status(StatusCode::INVALID_ARGUMENT, "relative path");
    auto* img = r->add_images();
    img->set_id("sha256:1111");
    img->add_repo_tags("localhost/test:1");
    return grpc::Status::OK;
  }
};

}  // namespace

FakeCriServer::FakeCriServer(const std::string& socket_path)
    : endpoint_("unix://" + socket_path), state_(std::make_shared<FakeCriState>()) {
  runtime_ = std::make_unique<FakeRuntime>(state_);
  images_ = std::make_unique<FakeImages>(state_);
  import_ = std::make_unique<FakeImport>();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  builder.RegisterService(runtime_.get());
  builder.RegisterService(images_.get());
  builder.RegisterService(import_.get());
  server_ = builder.BuildAndStart();
}

FakeCriServer::~FakeCriServer() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

}  // namespace deckhand::test
